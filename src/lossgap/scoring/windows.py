"""Context windows for long documents, and length-aware batches of windows.

A document of L tokens (BOS included) that fits in `max_length` is one window. A longer one is cut into
windows starting at 0, stride, 2·stride, …; each window scores only the tokens the previous one did not,
so every token is scored exactly once and, past the first window, with at least max_length − stride
tokens of context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Window", "plan_windows", "Batch", "plan_batches", "context_start"]


@dataclass(frozen=True, order=True)
class Window:
    """Tokens [start, end) of document `doc` go through the model; losses are kept for [score_from, end)."""

    doc: int
    start: int
    end: int
    score_from: int

    @property
    def length(self) -> int:
        return self.end - self.start


def plan_windows(n_tokens: int, max_length: int, stride: int, doc: int = 0) -> list[Window]:
    """Windows that score tokens 1..n_tokens-1 exactly once (token 0 has no context and no loss)."""
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2, got {max_length}")
    if not 1 <= stride <= max_length - 1:
        raise ValueError(f"stride must be in [1, max_length - 1] = [1, {max_length - 1}], got {stride}")
    if n_tokens < 2:
        return []
    windows = [Window(doc, 0, min(max_length, n_tokens), 1)]
    while windows[-1].end < n_tokens:
        start = windows[-1].start + stride
        windows.append(Window(doc, start, min(start + max_length, n_tokens), windows[-1].end))
    return windows


def context_start(n_tokens: int, max_length: int, stride: int) -> list[int]:
    """For each position of a document, the first position the model saw when it scored that token."""
    starts = [0] * n_tokens
    for w in plan_windows(n_tokens, max_length, stride):
        for p in range(w.score_from, w.end):
            starts[p] = w.start
    return starts


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
