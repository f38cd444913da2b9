"""The records annotators work on: documents with their tokens and text, lexings, chunks, shared resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lossgap.rundir.context import ContextPolicy

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["DocumentTokens", "LexedText", "Chunk", "Resources"]


@dataclass(frozen=True)
class DocumentTokens:
    """The tokens of one document, in position order (position 0 is the BOS/prefix token).

    `char_start`/`char_end` are offsets into `text` (Python string indices), -1 for special tokens.
    """

    doc_id: str
    domain: str
    text: str
    token_ids: np.ndarray  # int64 [n_tokens]
    char_start: np.ndarray  # int64 [n_tokens]
    char_end: np.ndarray  # int64 [n_tokens]

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def is_special(self) -> np.ndarray:
        """bool [n_tokens]: tokens with no characters in the text (the BOS)."""
        return self.char_start < 0

    def visible_span(self) -> tuple[np.ndarray, np.ndarray]:
        """int64 [n_tokens] twice: each token's first and last non-whitespace character (both -1 for special
        tokens, empty spans and tokens that are all whitespace). Words and code classes are read at the first."""
        n_chars = len(self.text)
        head = np.full(self.n_tokens, -1, dtype=np.int64)
        tail = np.full(self.n_tokens, -1, dtype=np.int64)
        ok = (self.char_start >= 0) & (self.char_end > self.char_start)
        if n_chars == 0 or not ok.any():
            return head, tail
        visible = np.fromiter((not ch.isspace() for ch in self.text), dtype=bool, count=n_chars)
        index = np.arange(n_chars)
        # next_visible[c]: first visible index >= c (n_chars if none); prev_visible[c]: last visible <= c (-1).
        next_visible = np.minimum.accumulate(np.where(visible, index, n_chars)[::-1])[::-1]
        prev_visible = np.maximum.accumulate(np.where(visible, index, -1))
        starts, ends = self.char_start[ok], self.char_end[ok]
        first = next_visible[np.minimum(starts, n_chars - 1)]
        last = prev_visible[np.minimum(ends - 1, n_chars - 1)]
        has_visible = first < ends
        head[ok] = np.where(has_visible, first, -1)
        tail[ok] = np.where(has_visible, last, -1)
        return head, tail


@dataclass(frozen=True)
class LexedText:
    """A Pygments lexing of one document: token i covers characters [starts[i], starts[i+1])."""

    starts: np.ndarray  # int64 [n_lexemes], increasing
    types: tuple[str, ...]  # dotted Pygments token type per lexeme, e.g. "Literal.String.Double"
    is_literal: np.ndarray  # bool [n_lexemes]: inside a string or comment

    def literal_runs(self) -> np.ndarray:
        """int64 [n_lexemes]: 0 for code; k > 0 for the k-th run of consecutive string/comment lexemes (one
        string literal is often several lexemes: quote, text, interpolation, text, quote)."""
        starts_run = self.is_literal & ~np.concatenate([[False], self.is_literal[:-1]])
        return np.where(self.is_literal, np.cumsum(starts_run), 0)

    def lexeme_at(self, chars: np.ndarray) -> np.ndarray:
        """int64: the lexeme covering each character index (-1 before the first)."""
        return np.searchsorted(self.starts, chars, side="right") - 1


@dataclass(frozen=True)
class Chunk:
    """A group of documents annotated together; `lexed[i]` is document i's Pygments lexing (None for prose
    and for domains no Pygments lexer knows)."""

    docs: tuple[DocumentTokens, ...]
    lexed: tuple[LexedText | None, ...]

    @property
    def n_tokens(self) -> int:
        return sum(d.n_tokens for d in self.docs)


@dataclass(frozen=True)
class Resources:
    """What annotators need beyond the tokens, prepared once per run by `run_annotate`."""

    nlp: Language | None  # spaCy tagger for prose domains (None when the run has no prose)
    prose_domains: frozenset[str]
    count_ids: np.ndarray  # int64 [n_ids], sorted token ids of the reference counts
    counts: np.ndarray  # float64 [n_ids], their counts
    repeat_context: ContextPolicy | None  # None: every token sees its whole document
    spacy_batch_size: int = 64
    leave_document_out: bool = False  # counts are the run's own: subtract each document's own occurrences
    # a probe run's marks by document: (probe, level, start, end, src_start, src_end, skip_first); None: no probes
    probe_marks: dict[str, list[tuple[str, int, int, int, int, int, bool, int, int]]] | None = None
