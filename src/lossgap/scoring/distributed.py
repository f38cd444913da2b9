"""Several scoring processes (torchrun): who is who, a barrier, and a deterministic split of the documents."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = ["Ranks", "init_ranks", "shard_documents"]


@dataclass(frozen=True)
class Ranks:
    """This process's place among the scoring processes (rank 0 of 1 when not under torchrun)."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()


def init_ranks(device_kind: str) -> Ranks:
    """Join the process group that torchrun describes in the environment (NCCL on GPUs, gloo on CPUs)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Ranks(0, 1, 0)
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def shard_documents(n_tokens: np.ndarray, world_size: int) -> list[np.ndarray]:
    """Split documents among ranks with balanced token counts; the same input always gives the same split.

    Longest documents first, each to the rank with the fewest tokens so far (ties to the lower rank):
    the greedy LPT rule, within 4/3 of the best possible balance. Returns each rank's document indices, sorted.
    """
    load = np.zeros(world_size, dtype=np.int64)
    owner = np.empty(len(n_tokens), dtype=np.int64)
    for doc in np.argsort(-np.asarray(n_tokens), kind="stable"):
        rank = int(np.argmin(load))
        owner[doc] = rank
        load[rank] += n_tokens[doc]
    return [np.flatnonzero(owner == r) for r in range(world_size)]
