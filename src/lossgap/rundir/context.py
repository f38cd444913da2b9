"""The context policy: which earlier tokens a model saw when it scored each token.

A document of L tokens (the prefix token included) that fits in `max_length` is one window. A longer one is cut
into windows starting at 0, stride, 2·stride, …; each window scores only the tokens the previous one did not,
so every token is scored exactly once and, past the first window, with at least max_length − stride tokens of
context. Scoring cuts its batches from these windows; annotate judges repeats within them, so that "seen
before" means "visible to the model". Neither stage imports the other: both read the policy here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ContextPolicy", "Window", "visible_segments", "widest"]


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


@dataclass(frozen=True, kw_only=True)
class ContextPolicy:
    """Windows of `max_length` tokens started every `stride` tokens (see the module docstring).

    >>> ContextPolicy(max_length=4, stride=2).windows(7)
    [Window(doc=0, start=0, end=4, score_from=1), Window(doc=0, start=2, end=6, score_from=4), Window(doc=0, start=4, end=7, score_from=6)]
    >>> ContextPolicy(max_length=4, stride=2).context_start(7)
    [0, 0, 0, 0, 2, 2, 4]
    """

    max_length: int
    stride: int

    def __post_init__(self) -> None:
        if self.max_length < 2:
            raise ValueError(f"max_length must be at least 2, got {self.max_length}")
        if not 1 <= self.stride <= self.max_length - 1:
            raise ValueError(f"stride must be in [1, max_length - 1] = [1, {self.max_length - 1}], got {self.stride}")

    @property
    def guaranteed_context(self) -> int:
        """Tokens of context every token past the first window has at least."""
        return self.max_length - self.stride

    def windows(self, n_tokens: int, doc: int = 0) -> list[Window]:
        """Windows that score tokens 1..n_tokens-1 exactly once (token 0 has no context and no loss)."""
        if n_tokens < 2:
            return []
        windows = [Window(doc, 0, min(self.max_length, n_tokens), 1)]
        while windows[-1].end < n_tokens:
            start = windows[-1].start + self.stride
            windows.append(Window(doc, start, min(start + self.max_length, n_tokens), windows[-1].end))
        return windows

    def context_start(self, n_tokens: int) -> list[int]:
        """For each position of a document, the first position the model saw when it scored that token."""
        starts = [0] * n_tokens
        for w in self.windows(n_tokens):
            for p in range(w.score_from, w.end):
                starts[p] = w.start
        return starts

    def describe(self, longest_document: int) -> str:
        """In words, for the manifest and the report."""
        if longest_document <= self.max_length:
            return "full document"
        return f"windows of {self.max_length} tokens, stride {self.stride}"


def visible_segments(n_tokens: int, policy: ContextPolicy | None) -> list[tuple[int, int, int]]:
    """The spans of one document whose tokens are judged together: (start, end, score_from), positions.

    Tokens [score_from, end) saw exactly [start, end) when scored. `None` (whole documents) gives one span
    (1, n, 1); windows give one per window. The prefix token at position 0 is never part of a span.

    >>> visible_segments(7, ContextPolicy(max_length=4, stride=2))
    [(1, 4, 1), (2, 6, 4), (4, 7, 6)]
    """
    if n_tokens < 2:
        return []
    if policy is None or n_tokens <= policy.max_length:
        return [(1, n_tokens, 1)]
    return [(max(w.start, 1), w.end, max(w.score_from, 1)) for w in policy.windows(n_tokens)]


def widest(policies: Iterable[ContextPolicy | None]) -> ContextPolicy | None:
    """The policy that lets a model see the most: the largest max_length, then the most guaranteed context.

    `None` (whole documents) is wider than any window, and no policy at all means whole documents.
    """
    best: ContextPolicy | None = None
    for policy in policies:
        if policy is None:
            return None
        if best is None or (policy.max_length, policy.guaranteed_context) > (best.max_length, best.guaranteed_context):
            best = policy
    return best
