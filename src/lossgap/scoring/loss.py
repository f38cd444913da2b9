"""Per-token losses of a batch of windows: one forward pass, then float32 log-softmax in chunks.

Windows reach the model in one of two layouts. *Padded*: one row per window, left-padded to the batch's
width, with a padding mask (any attention, any device). *Packed* (CUDA, with lossgap's varlen attention and,
for Olmo Hybrid, its fused Gated DeltaNet): the windows one after another in a single row, each a segment of
its own (`cu_seq_lens_q`) with positions restarting at 0, so no padding is computed at all.

The vocabulary projection is applied only to the positions whose next token is scored, `chunk` rows at a
time, so the float32 logits of a whole batch ([tokens × vocabulary], 1.6 GB for 4096 tokens of a 100k
vocabulary) never exist at once. From the same logits, beside each token's loss, `batch_scores` can give the
entropy of the model's next-token distribution and the true token's rank (`distribution`), and the `top_k` most
likely next tokens with their log-probabilities: `TokenStats`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lossgap.errors import ConfigError
from lossgap.rundir import Window
from lossgap.scoring.hybrid import CU_SEQLENS, CU_SEQLENS_CPU

__all__ = ["CausalLMHead", "TokenStats", "batch_losses", "batch_scores"]


@dataclass(frozen=True)
class TokenStats:
    """What is computed per scored token beside its loss: `distribution` adds `entropy` (nats, of the model's
    next-token distribution) and `rank` (1 + the number of tokens given a strictly higher logit than the true one);
    `top_k` > 0 adds `topk_ids` and `topk_logprobs` ([tokens, top_k], most likely first)."""

    distribution: bool = False
    top_k: int = 0

    @property
    def columns(self) -> tuple[str, ...]:
        """The scores file's columns beyond the loss."""
        return (("entropy", "rank") if self.distribution else ()) + (
            ("topk_ids", "topk_logprobs") if self.top_k else ()
        )


class CausalLMHead:
    """The pieces of a transformers causal LM that scoring needs: the trunk, the head and its logit transform."""

    def __init__(self, model: torch.nn.Module, *, float32_head: bool = False, align_vocab: int | None = None) -> None:
        self.model = model
        self.trunk = getattr(model, model.base_model_prefix, None)
        self.head = model.get_output_embeddings()
        if self.trunk is None or self.head is None:
            raise ConfigError(f"{type(model).__name__} has no separate trunk and output head; it cannot be scored")
        # float32 copies of the head's weight and bias: the logits' product runs in float32 (see ScoreConfig)
        self.head_float32 = None
        if float32_head and self.head.weight.dtype != torch.float32:
            bias = getattr(self.head, "bias", None)
            self.head_float32 = (self.head.weight.float(), None if bias is None else bias.float())
        # The head's product writes rows of vocabulary-many logits; where that is no multiple of 8 (Olmo's 100,278)
        # cuBLAS falls back to an sm80 kernel on Hopper, at a third of the matrix rate (12% of a batch's time for
        # Olmo 3 7B, benchmarks.md). So the weight moves into a buffer zero-padded to a multiple of `align_vocab`
        # rows (default: 64 on CUDA, none elsewhere), of which the model's own head stays a view (no second copy);
        # the padding's logits are cut off before use. Not for a model being trained (the in-loop evaluator).
        self.head_padded = None
        weight = getattr(self.head, "weight", None)
        if align_vocab is None:
            align_vocab = 64 if weight is not None and weight.is_cuda else 1
        if (weight is not None and weight.dim() == 2 and weight.dtype in (torch.bfloat16, torch.float16)
                and self.head_float32 is None and getattr(self.head, "bias", None) is None):  # fmt: skip
            pad = -weight.shape[0] % align_vocab
            if pad:
                buffer = torch.zeros(weight.shape[0] + pad, weight.shape[1], dtype=weight.dtype, device=weight.device)
                buffer[: weight.shape[0]] = weight.detach()
                weight.data = buffer[: weight.shape[0]]
                self.head_padded, self.vocab = buffer, weight.shape[0]
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.scale = getattr(model.config, "logit_scale", None)
        self.packed = False  # windows packed into one row of segments (set where the attention allows it)

    def compile(self) -> None:
        """torch.compile each decoder layer and the loss, dynamic shapes so that batch widths do not each recompile.

        Layers of one kind share their code, so one compilation serves them all: seconds for a 7B model where
        compiling the whole trunk took minutes. In a layer with a linear-attention mixer (`linear_attn`, Olmo
        Hybrid's Gated DeltaNet) only the other parts (norms, MLP) are compiled: with the mixer, compiling
        one layer did not finish in 200 s on an H100. A trunk without a `layers` list is compiled whole.

        What earlier models in this process compiled is dropped first: the decoder layers of all transformers
        models share code (`forward_with_checkpointing`), so a second model's shapes would count against the
        same recompile limit and, past it, run eager.
        """
        torch._dynamo.reset()
        self.token_stats = torch.compile(self.token_stats, dynamic=True)  # a few kernels after the head's GEMM
        layers = getattr(self.trunk, "layers", None)
        if layers is None:
            self.trunk = torch.compile(self.trunk, dynamic=True)
            return
        for layer in layers:
            if hasattr(layer, "linear_attn"):
                for name, part in layer.named_children():
                    if name != "linear_attn":
                        part.compile(dynamic=True)
            else:
                layer.compile(dynamic=True)

    @contextlib.contextmanager
    def layer_progress(self, report: Callable[[float], None] | None) -> Iterator[None]:
        """While open, `report(fraction)` after each decoder layer's forward pass: the share of the trunk done.

        For progress inside a long batch on a CPU (a GPU's layers return before their kernels finish, so the
        fractions would say nothing there). A trunk without a `layers` list reports nothing."""
        layers = getattr(self.trunk, "layers", None) if report is not None else None
        if not layers:
            yield
            return
        n = len(layers)
        handles = [
            layer.register_forward_hook(lambda *_, i=i: report((i + 1) / (n + 1))) for i, layer in enumerate(layers)
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """float32 logits [rows, vocab] of hidden states [rows, hidden]."""
        if self.head_float32 is not None:
            logits = torch.nn.functional.linear(hidden.float(), *self.head_float32)
        elif self.head_padded is not None:
            logits = torch.nn.functional.linear(hidden, self.head_padded)[..., : self.vocab].float()
        else:
            logits = self.head(hidden).float()
        if self.scale is not None:
            logits = logits * self.scale
        if self.softcap is not None:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def token_stats(self, hidden: torch.Tensor, targets: torch.Tensor, distribution: bool = False,
                    top_k: int = 0) -> dict[str, torch.Tensor]:  # fmt: skip
        """float32 −log p(target) (`loss`) of hidden states [rows, hidden] and target ids [rows], and the TokenStats
        asked for, from the same float32 logits."""
        logits = self.logits(hidden)
        norm = torch.logsumexp(logits, dim=-1)
        true = logits.gather(1, targets[:, None])
        out = {"loss": norm - true.squeeze(1)}
        if distribution:
            logp = logits - norm[:, None]
            p = torch.exp(logp)
            out["entropy"] = -torch.where(p > 0, p * logp, torch.zeros_like(p)).sum(dim=-1)
            out["rank"] = (logits > true).sum(dim=-1, dtype=torch.int32) + 1
        if top_k:
            values, ids = torch.topk(logits, top_k, dim=-1)
            out["topk_ids"] = ids.to(torch.int32)
            out["topk_logprobs"] = values - norm[:, None]
        return out

    def token_losses(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """float32 −log p(target) of hidden states [rows, hidden] and target ids [rows]."""
        return self.token_stats(hidden, targets)["loss"]

    def check_against_full_forward(self, input_ids: torch.Tensor) -> None:
        """Refuse a model whose logits are not head(trunk(x)) (e.g. an unknown logit transform)."""
        with torch.inference_mode():
            # no cache: a cache argument changes what a compiled layer is specialised on (one recompile a layer)
            reference = self.model(input_ids=input_ids, use_cache=False).logits.float()
            mine = self.logits(self.trunk(input_ids=input_ids, use_cache=False).last_hidden_state)
        tol = 1e-3 if self.model.dtype == torch.float32 else 5e-2  # bf16/fp16 weights: rounding differs
        err = (reference - mine).abs().max().item()
        if not err <= tol * max(1.0, reference.abs().max().item()):
            raise ConfigError(
                f"{type(self.model).__name__}: logits from its trunk and head differ from its own forward pass "
                f"(max difference {err:.3g}); lossgap does not know this architecture's logit transform"
            )


def _left_padded(token_ids: Sequence[np.ndarray], windows: Sequence[Window], width: int, device: torch.device):
    """input_ids, attention_mask, position_ids [B, width], windows right-aligned (Gated DeltaNet needs left padding)."""
    n = len(windows)
    ids = np.zeros((n, width), dtype=np.int64)
    mask = np.zeros((n, width), dtype=np.int64)
    for b, w in enumerate(windows):
        ids[b, width - w.length :] = token_ids[w.doc][w.start : w.end]
        mask[b, width - w.length :] = 1
    positions = np.clip(np.cumsum(mask, axis=1) - 1, 0, None)
    to = lambda a: torch.from_numpy(a).to(device, non_blocking=True)  # noqa: E731
    return to(ids), to(mask), to(positions)


def _packed(token_ids: Sequence[np.ndarray], windows: Sequence[Window], device: torch.device):
    """input_ids and position_ids [1, total], and the segment keywords of the windows packed one after another."""
    lengths = np.array([w.length for w in windows], dtype=np.int64)
    ids = np.concatenate([token_ids[w.doc][w.start : w.end] for w in windows])[None]
    positions = np.concatenate([np.arange(n) for n in lengths])[None]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    to = lambda a: torch.from_numpy(a).to(device, non_blocking=True)  # noqa: E731
    cu = to(bounds.astype(np.int32))
    segments = {CU_SEQLENS: cu, "cu_seq_lens_k": cu, "max_length_q": int(lengths.max()), "max_length_k": int(lengths.max()),
                CU_SEQLENS_CPU: torch.from_numpy(bounds)}  # fmt: skip
    return to(ids), to(positions), segments, bounds[:-1]


def batch_losses(
    head: CausalLMHead,
    token_ids: Sequence[np.ndarray],
    windows: Sequence[Window],
    width: int,
    chunk: int,
    device: torch.device,
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """For each window, float32 losses (nats) of its tokens [score_from, end), in order (`batch_scores`' losses)."""
    return [w["loss"] for w in batch_scores(head, token_ids, windows, width, chunk, device, progress)]


@torch.inference_mode()
def batch_scores(
    head: CausalLMHead,
    token_ids: Sequence[np.ndarray],
    windows: Sequence[Window],
    width: int,
    chunk: int,
    device: torch.device,
    progress: Callable[[int], None] | None = None,
    stats: TokenStats = TokenStats(),
) -> list[dict[str, np.ndarray]]:
    """For each window, its tokens' [score_from, end) float32 losses (nats) as "loss", in order, and the `stats`
    asked for under their names (TokenStats).

    `width` is the padded layout's row width (the longest window); the packed layout (`head.packed`) ignores it.
    `progress(tokens)`, on a CPU, is told after each decoder layer the share of the batch's scored tokens done.
    """
    n_scored = sum(w.end - w.score_from for w in windows)
    report = None if progress is None or device.type != "cpu" else (lambda share: progress(int(share * n_scored)))
    with head.layer_progress(report):
        return _batch_scores(head, token_ids, windows, width, chunk, device, stats)


def _batch_scores(
    head: CausalLMHead,
    token_ids: Sequence[np.ndarray],
    windows: Sequence[Window],
    width: int,
    chunk: int,
    device: torch.device,
    stats: TokenStats,
) -> list[dict[str, np.ndarray]]:
    if head.packed:
        ids, positions, segments, offsets = _packed(token_ids, windows, device)
        hidden = head.trunk(input_ids=ids, position_ids=positions, use_cache=False, **segments).last_hidden_state
        # Window w's token p sits at column offsets[w] + p - start of the single row.
        rows = [np.zeros(w.end - w.score_from, dtype=np.int64) for w in windows]
        cols = [np.arange(o + w.score_from - w.start, o + w.length) for o, w in zip(offsets, windows, strict=True)]
    else:
        ids, mask, positions = _left_padded(token_ids, windows, width, device)
        all_padding_free = all(w.length == width for w in windows)
        hidden = head.trunk(
            input_ids=ids,
            attention_mask=None if all_padding_free else mask,
            position_ids=positions,
            use_cache=False,
        ).last_hidden_state  # [B, width, H]
        # Row b, column c predicts the token at column c + 1. Window token p sits at column width - length + p - start.
        rows = [np.full(w.end - w.score_from, b) for b, w in enumerate(windows)]
        cols = [np.arange(width - w.length + (w.score_from - w.start), width) for w in windows]
    row_idx = torch.from_numpy(np.concatenate(rows)).to(device)
    col_idx = torch.from_numpy(np.concatenate(cols)).to(device)
    targets = ids[row_idx, col_idx]  # [M]
    selected = hidden[row_idx, col_idx - 1]  # [M, H]
    pieces: dict[str, list[torch.Tensor]] = {}
    for lo in range(0, len(targets), chunk):  # float32 logits of `chunk` rows at a time
        got = head.token_stats(selected[lo : lo + chunk], targets[lo : lo + chunk], stats.distribution, stats.top_k)
        for key, value in got.items():
            pieces.setdefault(key, []).append(value)
    splits = np.cumsum([w.end - w.score_from for w in windows])[:-1]
    columns = {key: np.split(torch.cat(values).cpu().numpy(), splits) for key, values in pieces.items()}
    return [{key: columns[key][i] for key in columns} for i in range(len(windows))]
