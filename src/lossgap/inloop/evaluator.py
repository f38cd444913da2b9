"""The in-loop evaluator: filtered mean losses of a model on a masks file's documents, as often as a training
loop calls it.

It scores the documents exactly as `lossgap score` does (the same windows, length-sorted batches, trunk plus
head with a float32 log-softmax), so its numbers agree with `lossgap score` + `lossgap curves` on the same
weights. The documents are tokenized once (they are the masks file); each call runs the model in eval mode
under `torch.inference_mode` and puts it back in the mode it found it in.

Under data parallelism (a `torch.distributed` process group of several ranks, as DDP, the Hugging Face Trainer
and Lightning set up) each rank scores its share of the documents (balanced by tokens, `shard_documents`) and the
per-mask sums of loss and token counts are all-reduced, so every rank returns what one process would. Where the
model's forward needs every rank (FSDP), give `shard=False`: every rank then scores every document, in step.
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
from lossgap.scoring.distributed import shard_documents
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
    # None: shard the documents across the ranks of an initialized process group (DDP); False: every rank scores
    # every document (FSDP, whose forward needs all ranks); True: shard (an error without a process group)
    shard: bool | None = None

    @classmethod
    def from_file(cls, path: Path | str, **options: object) -> Evaluator:
        """An evaluator of the masks file at `path` (written by `lossgap masks`)."""
        return cls(MasksFile.load(path), **options)  # type: ignore[arg-type]

    def _group(self) -> tuple[int, int]:
        """(rank, world size) of the documents' split: (0, 1) when not sharding."""
        import torch.distributed as dist

        grouped = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if self.shard and not grouped:
            raise ValueError(
                "Evaluator(shard=True) needs an initialized torch.distributed process group of several ranks"
            )
        if not grouped or self.shard is False:
            return 0, 1
        return dist.get_rank(), dist.get_world_size()

    def token_losses(self, model: torch.nn.Module, docs_of_rank: np.ndarray | None = None) -> np.ndarray:
        """float32 loss of every token of the documents (NaN at each document's prefix token), in file order;
        with `docs_of_rank`, of those documents only (NaN elsewhere)."""
        docs = self.masks.documents()
        max_length = self.max_length or int(getattr(model.config, "max_position_embeddings", 0) or 0)
        if max_length < 2:
            raise ValueError("the model's config has no max_position_embeddings: give the evaluator a max_length")
        policy = ContextPolicy(max_length=max_length, stride=self.stride or max(1, max_length // 2))
        mine = range(len(docs)) if docs_of_rank is None else docs_of_rank
        windows = [w for k in mine for w in policy.windows(len(docs[k]), doc=int(k))]
        device = next(model.parameters()).device
        head = CausalLMHead(model, align_vocab=1)  # the model is being trained: its head's weight stays as it is
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
        rank, world = self._group()
        mine = None
        if world > 1:
            lengths = np.diff(self.masks.doc_offsets)
            mine = shard_documents(lengths, world)[rank]
        losses = self.token_losses(model, mine).astype(np.float64)
        names = list(self.masks.masks)
        sums = np.zeros((2, len(names)))  # loss sums and token counts per mask, this rank's documents
        for j, name in enumerate(names):
            mask = self.masks.token_aligned(name) & np.isfinite(losses)
            sums[:, j] = losses[mask].sum(), mask.sum()
        if world > 1:
            import torch.distributed as dist

            device = next(model.parameters()).device
            # NCCL reduces tensors on the GPU, gloo on the CPU
            reduced = torch.from_numpy(sums).to(device if dist.get_backend() == "nccl" else "cpu")
            dist.all_reduce(reduced)
            sums = reduced.cpu().numpy()
        out = {}
        for j, name in enumerate(names):
            out[f"{self.prefix}/{name}"] = float(sums[0, j] / sums[1, j]) if sums[1, j] else float("nan")
        out[f"{self.prefix}/seconds"] = time.perf_counter() - started
        return out
