"""A scoring-only forward for Olmo Hybrid's Gated DeltaNet layers, built from flash-linear-attention's fused
pieces, on CUDA.

transformers' mixer spends most of its time around the recurrence rather than in it (see
shared/notes/olmo-hybrid-gpu-profile.md): layout copies, float32 gate arithmetic in many small kernels, and a
depthwise convolution run by PyTorch's generic kernel. This forward computes the same function with:

- one matrix product for q, k, v (and one for the two gate inputs a, b) instead of five;
- fla's Triton short convolution with the SiLU fused in;
- fla's chunked gated delta rule with the decay (−exp(A_log) · softplus(a + dt_bias)), the beta sigmoid (×2 with
  negative eigenvalues allowed) and the q/k L2 norms computed inside the kernel;
- fla's fused gated RMS norm.

Sequences are given to it as variable-length segments (`cu_seqlens`) of the flattened batch: the convolution
and the recurrence restart at every segment start, so a left-padded row is two independent segments (its
padding and its window) and packed windows need no padding at all. `use_fast_gated_deltanet` checks the new
forward against transformers' own on the model's weights before it switches.
"""

from __future__ import annotations

import importlib.util
import logging
import types

import torch
import torch.nn.functional as F

__all__ = ["CU_SEQLENS", "CU_SEQLENS_CPU", "use_fast_gated_deltanet", "fast_gated_deltanet_forward"]

log = logging.getLogger(__name__)

# Keyword arguments that carry the segments through transformers' layers (which pass unknown keywords on):
# cumulative segment bounds on the device (int32, flash-attention's name) and the same bounds on the host, so
# that no layer has to copy them back to plan its chunks.
CU_SEQLENS = "cu_seq_lens_q"
CU_SEQLENS_CPU = "lossgap_cu_seqlens_cpu"


def _segments(
    hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, kwargs: dict
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """int64 segment bounds of the flattened batch (device, and host when known)."""
    cu = kwargs.get(CU_SEQLENS)
    if cu is None:  # a left-padded batch: each row is [pads | tokens]
        from lossgap.scoring.attention import row_segments

        batch, width = hidden_states.shape[:2]
        cu = row_segments(attention_mask, batch, width, hidden_states.device)
    return cu.to(torch.int64), kwargs.get(CU_SEQLENS_CPU)


def fast_gated_deltanet_forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                                cache=None, **kwargs) -> torch.Tensor:  # type: ignore[no-untyped-def]  # fmt: skip
    """transformers' `OlmoHybridGatedDeltaNet.forward` for scoring: [B, T, H] -> [B, T, H], no cache."""
    from fla.modules.causal_conv1d import causal_conv1d
    from fla.modules.norm.fused_norm_gate import rms_norm_gated
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule

    if cache is not None:
        raise ValueError("lossgap's Gated DeltaNet forward is for scoring: it keeps no cache")
    batch, width, _ = hidden_states.shape
    cu, cu_cpu = _segments(hidden_states, attention_mask, kwargs)
    x = hidden_states.reshape(1, batch * width, -1)  # [1, BT, H]: segments, not rows
    qkv = F.linear(x, self.lossgap_qkv_weight)  # [1, BT, 2K + V]
    qkv, _ = causal_conv1d(qkv, weight=self.lossgap_conv_weight, activation="silu", cu_seqlens=cu,
                           cu_seqlens_cpu=cu_cpu)  # fmt: skip
    q, k, v = torch.split(qkv, [self.key_dim, self.key_dim, self.value_dim], dim=-1)
    a, b = torch.split(F.linear(x, self.lossgap_ab_weight), [self.num_v_heads, self.num_v_heads], dim=-1)
    out, _ = chunk_gated_delta_rule(
        q.reshape(1, -1, self.num_k_heads, self.head_k_dim),
        k.reshape(1, -1, self.num_k_heads, self.head_k_dim),
        v.reshape(1, -1, self.num_v_heads, self.head_v_dim),
        g=a,
        beta=b,
        use_qk_l2norm_in_kernel=True,
        use_gate_in_kernel=True,
        A_log=self.A_log,
        dt_bias=self.dt_bias,
        use_beta_sigmoid_in_kernel=True,
        allow_neg_eigval=self.allow_neg_eigval,
        cu_seqlens=cu,
        cu_seqlens_cpu=cu_cpu,
    )  # [1, BT, Hv, Dv]
    gate = self.g_proj(x)
    out = rms_norm_gated(out.reshape(-1, self.head_v_dim), gate.reshape(-1, self.head_v_dim), self.o_norm.weight, None,
                         activation="swish", eps=self.o_norm.variance_epsilon)  # fmt: skip
    return self.o_proj(out.reshape(batch, width, -1))


def _mixers(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if type(m).__name__ == "OlmoHybridGatedDeltaNet"]


@torch.inference_mode()
def _agrees(mixer: torch.nn.Module, original, fast, tolerance: float = 0.05) -> float:  # type: ignore[no-untyped-def]
    """Largest difference between the two forwards on random input, relative to the output's scale."""
    generator = torch.Generator(device=mixer.q_proj.weight.device).manual_seed(0)
    x = torch.randn(2, 70, mixer.hidden_size, device=mixer.q_proj.weight.device, dtype=mixer.q_proj.weight.dtype,
                    generator=generator)  # fmt: skip
    mask = torch.ones(2, 70, dtype=torch.long, device=x.device)
    mask[1, :9] = 0  # a left-padded row
    want, got = original(x, attention_mask=mask), fast(x, attention_mask=mask)
    keep = mask.bool()
    return float((want[keep] - got[keep]).abs().max() / want[keep].abs().max().clamp_min(1e-6))


def use_fast_gated_deltanet(model: torch.nn.Module, *, check: bool = True) -> bool:
    """Switch every Gated DeltaNet layer of `model` to `fast_gated_deltanet_forward` (CUDA, fla installed).

    The fused weights (q|k|v and a|b) are built once. With `check`, the first layer's new forward is compared
    with transformers' on random input (a padded and an unpadded row); the model is left unchanged and False
    returned if they differ by more than bf16 rounding.
    """
    mixers = _mixers(model)
    weight = next(model.parameters())
    if not mixers or weight.device.type != "cuda" or importlib.util.find_spec("fla") is None:
        return False
    for mixer in mixers:
        mixer.lossgap_qkv_weight = torch.cat([mixer.q_proj.weight, mixer.k_proj.weight, mixer.v_proj.weight]).detach()
        mixer.lossgap_ab_weight = torch.cat([mixer.a_proj.weight, mixer.b_proj.weight]).detach()
        mixer.lossgap_conv_weight = mixer.conv1d.weight.squeeze(1).detach()
    if check:
        first = mixers[0]
        error = _agrees(first, first.forward, types.MethodType(fast_gated_deltanet_forward, first))
        if not error <= 0.05:
            log.warning(
                "fla's fused Gated DeltaNet differs from transformers' by %.3g (relative); keeping transformers'", error
            )
            for mixer in mixers:
                del mixer.lossgap_qkv_weight, mixer.lossgap_ab_weight, mixer.lossgap_conv_weight
            return False
        log.info(
            "Gated DeltaNet layers through fla's fused kernels (checked against transformers': %.2g relative)", error
        )
    for mixer in mixers:
        mixer.forward = types.MethodType(fast_gated_deltanet_forward, mixer)
    return True
