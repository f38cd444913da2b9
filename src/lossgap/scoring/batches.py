"""Length-aware batches of context windows (the windows themselves come from the run's context policy)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lossgap.rundir import Window

__all__ = ["Batch", "plan_batches", "plan_packed_batches"]


@dataclass(frozen=True)
class Batch:
    """Windows scored together, left-padded to `width` tokens."""

    windows: tuple[Window, ...]
    width: int

    @property
    def padded_tokens(self) -> int:
        return self.width * len(self.windows)

    @property
    def real_tokens(self) -> int:
        return sum(w.length for w in self.windows)


def plan_batches(windows: Iterable[Window], batch_tokens: int, max_batch_size: int = 256) -> list[Batch]:
    """Group windows of similar length so that width × size ≤ batch_tokens: little padding, bounded memory.

    Windows are sorted by length (longest first, ties by document and start, so the plan is deterministic);
    a window longer than the budget gets a batch of its own.
    """
    ordered: Sequence[Window] = sorted(windows, key=lambda w: (-w.length, w.doc, w.start))
    batches: list[Batch] = []
    current: list[Window] = []
    for w in ordered:
        width = current[0].length if current else w.length
        if current and (width * (len(current) + 1) > batch_tokens or len(current) >= max_batch_size):
            batches.append(Batch(tuple(current), current[0].length))
            current = []
        current.append(w)
    if current:
        batches.append(Batch(tuple(current), current[0].length))
    return batches


def plan_packed_batches(windows: Iterable[Window], batch_tokens: int) -> list[Batch]:
    """Windows packed one after another into batches of at most `batch_tokens` tokens in all (no padding).

    Longest first (ties by document and start, so the plan is deterministic), each batch filled until the next
    window would pass the budget; a window longer than the budget gets a batch of its own.
    """
    ordered = sorted(windows, key=lambda w: (-w.length, w.doc, w.start))
    batches: list[Batch] = []
    current: list[Window] = []
    total = 0
    for w in ordered:
        if current and total + w.length > batch_tokens:
            batches.append(Batch(tuple(current), current[0].length))
            current, total = [], 0
        current.append(w)
        total += w.length
    if current:
        batches.append(Batch(tuple(current), current[0].length))
    return batches
