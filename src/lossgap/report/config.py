"""The report stage's configuration: how many rows, documents and tokens the HTML report shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from lossgap.errors import ConfigError

__all__ = ["ReportConfig"]


@dataclass(frozen=True, kw_only=True)
class ReportConfig:
    """Options of `lossgap report`.

    The viewer is bounded so that a 100M-token run renders as quickly as a toy one: it shows at most
    `viewer_docs` documents (those the top tables point at first), each cut to a window of at most
    `viewer_tokens` tokens around the position the tables point at.
    """

    top_rows: int = 10  # rows per direction in each "where the candidate wins / loses" table
    viewer_docs: int = 12
    viewer_tokens: int = 1500
    extra_docs: tuple[str, ...] = field(default=())  # doc_ids the user wants in the viewer besides the top ones
    title: str | None = None  # default: "lossgap: CANDIDATE vs BASELINE"
    notes: tuple[str, ...] = ()  # what a reader must keep in mind besides the comparison's own notes (first in the box)

    def __post_init__(self) -> None:
        for name, lowest in (("top_rows", 1), ("viewer_docs", 0), ("viewer_tokens", 16)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
                raise ConfigError(f"report option {name} must be an integer >= {lowest}, got {value!r}")
        if not isinstance(self.extra_docs, tuple) or not all(isinstance(d, str) for d in self.extra_docs):
            raise ConfigError(f"report option extra_docs must be a tuple of doc_id strings, got {self.extra_docs!r}")
        if not isinstance(self.notes, tuple) or not all(isinstance(n, str) and n.strip() for n in self.notes):
            raise ConfigError(f"report option notes must be a list of non-empty strings, got {self.notes!r}")
        if self.title is not None and not self.title.strip():
            raise ConfigError("report option title must not be empty (leave it unset for the default)")
