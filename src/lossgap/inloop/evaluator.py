"""The in-loop evaluator: filtered mean losses of a model on a masks file's documents, as often as a training
loop calls it.

It scores the documents exactly as `lossgap score` does (the same windows, length-sorted batches, trunk plus
head with a float32 log-softmax), so its numbers agree with `lossgap score` + `lossgap curves` on the same
weights. The documents are tokenized once (they are the masks file); each call runs the model in eval mode
under `torch.inference_mode` and puts it back in the mode it found it in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lossgap.inloop.masks import MasksFile
from lossgap.rundir.context import ContextPolicy
from lossgap.scoring.batches import plan_batches
from lossgap.scoring.loss import CausalLMHead, batch_losses

__all__ = ["Evaluator"]


@dataclass
class Evaluator:
    """Call it with a model: `evaluator(model)` -> {"PREFIX/MASK": mean loss in nats, …, "PREFIX/seconds": …}.

    max_length, stride: the context policy (None: the model's own limit, stride half of it, as `lossgap score`).
    batch_tokens, loss_chunk_tokens: as `lossgap score`'s options of the same names.
    """

    masks: MasksFile
    prefix: str = "lossgap"
    max_length: int | None = None
    stride: int | None = None
    batch_tokens: int = 16384
    loss_chunk_tokens: int = 1024

    @classmethod
    def from_file(cls, path: Path | str, **options: object) -> Evaluator:
        """An evaluator of the masks file at `path` (written by `lossgap masks`)."""
        return cls(MasksFile.load(path), **options)  # type: ignore[arg-type]

    def token_losses(self, model: torch.nn.Module) -> np.ndarray:
        """float32 loss of every token of the documents (NaN at each document's prefix token), in file order."""
        docs = self.masks.documents()
        max_length = self.max_length or int(getattr(model.config, "max_position_embeddings", 0) or 0)
        if max_length < 2:
            raise ValueError("the model's config has no max_position_embeddings: give the evaluator a max_length")
        policy = ContextPolicy(max_length=max_length, stride=self.stride or max(1, max_length // 2))
        windows = [w for k, d in enumerate(docs) for w in policy.windows(len(d), doc=k)]
        device = next(model.parameters()).device
        head = CausalLMHead(model)
        losses = [np.full(len(d), np.nan, dtype=np.float32) for d in docs]
        was_training = model.training
        model.eval()
        try:
            for batch in plan_batches(windows, self.batch_tokens):
                out = batch_losses(head, docs, batch.windows, batch.width, self.loss_chunk_tokens, device)
                for w, window_losses in zip(batch.windows, out, strict=True):
                    losses[w.doc][w.score_from : w.end] = window_losses
        finally:
            model.train(was_training)
        return np.concatenate(losses) if losses else np.zeros(0, np.float32)

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        started = time.perf_counter()
        losses = self.token_losses(model).astype(np.float64)
        out = {}
        for name in self.masks.masks:
            mask = self.masks.token_aligned(name) & np.isfinite(losses)
            out[f"{self.prefix}/{name}"] = float(losses[mask].mean()) if mask.any() else float("nan")
        out[f"{self.prefix}/seconds"] = time.perf_counter() - started
        return out
