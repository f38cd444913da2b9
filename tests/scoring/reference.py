"""Independent float64 references for per-token losses: full forward passes, one context at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def assert_float32_close(actual: np.ndarray, expected: np.ndarray, *, ulps: int = 64) -> None:
    """Losses computed in float32 agree with `expected` to `ulps` float32 ulps relative, plus a 1e-6 floor.

    Per-token losses go through the whole network in float32, so their error grows with the size of the numbers
    involved (a loss of ~7 nats, logits of several units), and how it rounds depends on the CPU's kernels: an
    absolute 1e-5 failed on an AVX-512/AMX Xeon (1.1e-5 at a loss of 7.2). 64 ulps relative is 5.5e-5 there.
    """
    np.testing.assert_allclose(actual, expected, rtol=ulps * float(np.finfo(np.float32).eps), atol=1e-6)


def load_float64(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float64).eval()


@torch.no_grad()
def full_context_losses(model, ids: np.ndarray) -> np.ndarray:
    """−log p(ids[p] | ids[:p]) for p ≥ 1 from the model's own logits, log-softmax in float64."""
    x = torch.tensor(ids, dtype=torch.long)[None]
    logp = torch.log_softmax(model(input_ids=x).logits[0].double(), dim=-1)
    return -logp[:-1].gather(1, x[0, 1:, None]).squeeze(1).numpy()


@torch.no_grad()
def context_losses(model, ids: np.ndarray, starts: list[int]) -> np.ndarray:
    """−log p(ids[p] | ids[starts[p]:p]) for p ≥ 1: one forward pass per token, no sharing at all."""
    out = []
    for p in range(1, len(ids)):
        x = torch.tensor(ids[starts[p] : p + 1], dtype=torch.long)[None]
        logp = torch.log_softmax(model(input_ids=x).logits[0, -2].double(), dim=-1)
        out.append(-logp[int(ids[p])].item())
    return np.array(out)


def varlen_attention(q, k, v, cu_q, cu_k, max_q, max_k, *, scale, window_size, enable_gqa):  # type: ignore[no-untyped-def]
    """PyTorch's `varlen_attn` by brute force, in float64: q [T, Hq, D], k/v [T, Hkv, D], segments [cu[i], cu[i+1]).

    Each query attends causally within its segment, to itself and at most window_size[0] earlier keys (all if
    -1); grouped heads share key/value head h // (Hq // Hkv).
    """
    assert torch.equal(cu_q, cu_k) and window_size[1] == 0 and enable_gqa == (k.shape[1] != q.shape[1])
    out = torch.zeros_like(q)
    group = q.shape[1] // k.shape[1]
    left = window_size[0]
    for start, end in zip(cu_q[:-1].tolist(), cu_q[1:].tolist(), strict=True):
        n = end - start
        assert 0 <= n <= max_q
        if n == 0:
            continue
        qs, ks, vs = (t[start:end].double().transpose(0, 1) for t in (q, k, v))  # [H, n, D]
        ks, vs = ks.repeat_interleave(group, 0), vs.repeat_interleave(group, 0)
        scores = qs @ ks.transpose(1, 2) * (scale if scale is not None else q.shape[-1] ** -0.5)
        i, j = torch.arange(n, device=q.device)[:, None], torch.arange(n, device=q.device)[None]
        allowed = (j <= i) & ((i - j <= left) if left >= 0 else True)
        attn = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
        out[start:end] = (attn @ vs).transpose(0, 1).to(q.dtype)
    return out
