"""Attention for left-padded batches through PyTorch's variable-length flash kernel (`varlen_attn`).

transformers' SDPA path needs a [B, 1, W, W] mask as soon as a batch has padding or a layer has a sliding
window narrower than the batch, and with a mask PyTorch cannot use its flash kernel: it falls back to a slower
one that also computes every masked block. lossgap's batches are left-padded, so each row is
[pads | window], which is two variable-length sequences: the pads (they attend only to each other and their
outputs are never read) and the window (causal within itself). The kernel then runs on the batch as it lies
in memory, with no gather, no scatter and no mask, and skips the blocks that a causal or sliding-window
mask would zero.

`use_varlen_attention(model)` switches a transformers model to it through transformers' own extension
points (`AttentionInterface`, `AttentionMaskInterface`); `lossgap score` does so on CUDA when the kernel is
there. The left-padding layout is what `scoring.loss.batch_losses` builds; other callers must not pad on the
right.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import torch

__all__ = [
    "NAME",
    "UnsupportedAttention",
    "row_segments",
    "use_varlen_attention",
    "varlen_attention_forward",
    "varlen_kernel",
]

NAME = "lossgap_varlen"
# Arguments some models pass their attention function that varlen_attn has no counterpart for:
# logit soft-capping (Gemma 2) and attention sinks (gpt-oss).
_UNSUPPORTED = ("softcap", "s_aux")


class UnsupportedAttention(ValueError):
    """The model's attention needs something the varlen kernel does not do."""


def varlen_kernel() -> Callable | None:
    """PyTorch's `varlen_attn` if this build has it with sliding windows (PyTorch 2.11 on), else None.

    Builds whose `varlen_attn` has no `enable_gqa` (2.11) get grouped key/value heads repeated to the query heads.
    """
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    params = inspect.signature(varlen_attn).parameters
    if not {"window_size", "scale"} <= params.keys():
        return None
    if "enable_gqa" in params:
        return varlen_attn

    def repeating_heads(q, k, v, *args, enable_gqa: bool, **kwargs):  # type: ignore[no-untyped-def]
        if enable_gqa:
            group = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
        return varlen_attn(q, k, v, *args, **kwargs)

    return repeating_heads


def row_segments(padding_mask: torch.Tensor | None, batch: int, width: int, device: torch.device) -> torch.Tensor:
    """int32 cumulative bounds [2B + 1] of the segments of a left-padded batch: row b's pads, then its tokens.

    A row without padding has an empty pad segment. Computed on the device from the mask: no host sync.
    """
    starts = torch.arange(batch, device=device, dtype=torch.int32) * width
    n_pad = 0 if padding_mask is None else width - padding_mask.sum(1, dtype=torch.int32)
    bounds = torch.stack([starts, starts + n_pad], 1).flatten()
    return torch.cat([bounds, bounds.new_full((1,), batch * width)])


def varlen_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    sliding_window: int | None = None,
    *,
    kernel: Callable,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: q [B, Hq, W, D], k/v [B, Hkv, W, D] → ([B, W, Hq, D], None).

    `kernel` has `varlen_attn`'s signature. `attention_mask` is the [B, W] padding mask (left padding) or None;
    packed windows (B = 1) come with their segment bounds in `cu_seq_lens_q` and the longest in `max_length_q`.
    A sliding window of n keys means each query sees itself and the n - 1 keys before it, as in transformers.
    """
    if dropout:
        raise ValueError("lossgap's varlen attention is for inference: dropout must be 0")
    unsupported = [name for name in _UNSUPPORTED if kwargs.get(name) is not None]
    if unsupported:
        raise UnsupportedAttention(f"{type(module).__name__} attention uses {', '.join(unsupported)}")
    batch, heads, width, dim = query.shape
    bounds, longest = kwargs.get("cu_seq_lens_q"), kwargs.get("max_length_q") or width
    if bounds is None:
        bounds = row_segments(attention_mask, batch, width, query.device)
    flat = [t.transpose(1, 2).reshape(batch * width, t.shape[1], dim) for t in (query, key, value)]
    # a window as long as every segment is causal attention: the kernel's causal path, not its local one
    window = (-1, 0) if sliding_window is None or longest <= sliding_window else (sliding_window - 1, 0)
    out = kernel(
        *flat, bounds, bounds, longest, longest, scale=scaling, window_size=window, enable_gqa=key.shape[1] != heads
    )
    return out.view(batch, width, heads, dim), None


def _padding_mask(batch_size: int, q_length: int, kv_length: int, attention_mask=None, **kwargs):  # type: ignore[no-untyped-def]
    """The mask transformers hands to the attention function: the [B, W] padding mask itself (or None)."""
    return None if attention_mask is None else attention_mask[:, -kv_length:]


def use_varlen_attention(model: torch.nn.Module, kernel: Callable | None = None) -> bool:
    """Switch a transformers model to varlen attention; False (model unchanged) where that is not possible.

    `kernel` stands in for `varlen_attn` (tests do so on the CPU); by default PyTorch's, which is a flash
    kernel: CUDA, bfloat16 or float16 only.
    """
    weight = next(model.parameters())
    if kernel is None:
        kernel = varlen_kernel()
        if kernel is None or weight.device.type != "cuda" or weight.dtype not in (torch.bfloat16, torch.float16):
            return False
    if not (model._can_set_attn_implementation() and model._supports_flash_attn):
        return False  # flash attention's semantics (causal, windows, no mask biases) are what this kernel has
    from transformers import AttentionInterface, AttentionMaskInterface

    AttentionInterface.register(NAME, functools.partial(varlen_attention_forward, kernel=kernel))
    AttentionMaskInterface.register(NAME, _padding_mask)
    previous = model.config._attn_implementation
    model.set_attn_implementation(NAME)
    if model.config._attn_implementation != NAME:
        return False
    try:  # a two-token forward pass finds attention arguments the kernel cannot honour; without a cache, which
        # compiled layers would specialise on (one recompile a layer, up to dynamo's limit)
        with torch.inference_mode():
            model(input_ids=torch.zeros((1, 2), dtype=torch.long, device=weight.device), use_cache=False)
    except UnsupportedAttention:
        model.set_attn_implementation(previous)
        return False
    return True
