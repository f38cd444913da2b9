"""Cutting a document's text into units that every tokenizer maps onto: words or bytes.

A *word* is a number with decimal or thousands separators (`3.14159`, `1,000`; also `1,2` in code), a run of
word characters (`\\w+`: Unicode letters, digits and underscore) or one character that is neither a word
character nor white space (each punctuation mark, bracket and operator character is a unit of its own, so
`(` and `)` are units and bracket features keep their meaning). White space belongs to the
word after it, as most tokenizers attach a leading space to the token that follows (" the"); white space at
the end of a text belongs to its last word. So the words tile the text: every byte is in exactly one unit.

A *byte* is one byte of the text's UTF-8 encoding; its characters are those of the character it is part of.

Units live in byte offsets (a token's loss is shared among bytes, see `attribution`) and in character offsets
(what the annotators read). Lone surrogates count as three bytes, as `surrogatepass` encodes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["UNITS", "WORD_RE", "DocumentUnits", "char_to_byte", "segment"]

UNITS = ("word", "byte")
WORD_RE = re.compile(r"\d+(?:[.,]\d+)+|\w+|[^\w\s]")

SEGMENTATION = {
    "word": "numbers with separators, runs of word characters (\\w+) and single other non-space characters; white "
    "space joins the next word",
    "byte": "the bytes of the text's UTF-8 encoding",
}


@dataclass(frozen=True)
class DocumentUnits:
    """The units of one document: unit i owns bytes [byte_start[i], byte_end[i]) and characters
    [char_start[i], char_end[i]) (tiling the text, white space included); `keys` are what identify a unit
    across documents (a word's text, a byte's value)."""

    byte_start: np.ndarray  # int64
    byte_end: np.ndarray  # int64
    char_start: np.ndarray  # int64
    char_end: np.ndarray  # int64
    keys: list[str] | np.ndarray  # word texts, or byte values (uint8)

    def __len__(self) -> int:
        return len(self.byte_end)


def char_to_byte(text: str) -> np.ndarray:
    """Byte offset of every character boundary: out[i] is where character i starts, out[len(text)] the end."""
    if not text:
        return np.zeros(1, np.int64)
    code = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    width = 1 + (code >= 0x80) + (code >= 0x800) + (code >= 0x10000)
    return np.concatenate([[0], np.cumsum(width, dtype=np.int64)])


def segment(text: str, unit: str) -> DocumentUnits:
    """The units of `text` (see the module docstring). A text with characters but no word is one unit."""
    offsets = char_to_byte(text)
    if unit == "byte":
        data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        n = len(data)
        chars = np.repeat(np.arange(len(text), dtype=np.int64), np.diff(offsets))
        return DocumentUnits(np.arange(n, dtype=np.int64), np.arange(1, n + 1, dtype=np.int64), chars, chars + 1,
                             data.copy())  # fmt: skip
    if unit != "word":
        raise ValueError(f"unknown unit {unit!r}: choose one of {', '.join(UNITS)}")
    spans = [(m.start(), m.end()) for m in WORD_RE.finditer(text)]
    if not spans:
        spans = [(0, len(text))] if text else []
    keys = [text[a:b] for a, b in spans]
    ends = np.array([b for _, b in spans], dtype=np.int64)
    if len(ends):
        ends[-1] = len(text)  # trailing white space belongs to the last word
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return DocumentUnits(offsets[starts], offsets[ends], starts, ends, keys)
