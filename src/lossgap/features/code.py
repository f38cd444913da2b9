"""Code and markup classes: the Pygments token type at each token's first visible character.

Reads a chunk's Pygments lexings; writes `code_class` (Keyword, Name, String, Comment, Punctuation, …) and
`code_type` (the full type, e.g. Name.Function).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lossgap.features.records import Chunk, Resources

__all__ = ["code_class_of", "annotate_code"]


def code_class_of(code_type: str) -> str:
    """The coarse class of a dotted Pygments type: its top level, except Literal.X → X (String, Number) and
    Text.Whitespace → Whitespace."""
    parts = code_type.split(".")
    if parts[0] == "Literal" and len(parts) > 1:
        return parts[1]
    if parts[:2] == ["Text", "Whitespace"]:
        return "Whitespace"
    return parts[0] or "Text"


def annotate_code(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """`code_class` and `code_type` for tokens of documents with a lexing (null elsewhere and for the BOS).

    A token is read at its first non-whitespace character (its first character if it is all whitespace),
    so " def" is a Keyword and "):" takes the class of ")"."""
    code_types: list[str | None] = []
    for doc, lexed in zip(chunk.docs, chunk.lexed, strict=True):
        if lexed is None or lexed.starts.size == 0:
            code_types.extend([None] * doc.n_tokens)
            continue
        head, _ = doc.visible_span()
        read_at = np.where(head >= 0, head, doc.char_start)
        valid = (doc.char_start >= 0) & (doc.char_end > doc.char_start)
        lexeme = lexed.lexeme_at(read_at)
        code_types.extend(
            lexed.types[j] if ok and j >= 0 else None for ok, j in zip(valid.tolist(), lexeme.tolist(), strict=True)
        )
    classes = [None if t is None else code_class_of(t) for t in code_types]
    return {"code_class": pa.array(classes, pa.string()), "code_type": pa.array(code_types, pa.string())}
