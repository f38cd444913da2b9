"""The token's own text and its document's domain: writes `token_text` and `domain`."""

from __future__ import annotations

import pyarrow as pa

from lossgap.features.records import Chunk, Resources

__all__ = ["annotate_text"]


def annotate_text(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """`token_text` = text[char_start:char_end] (null for special tokens; a byte-level token that holds part
    of a character shows the whole character, as its offsets do) and `domain` copied from the corpus."""
    texts: list[str | None] = []
    domains: list[str] = []
    for doc in chunk.docs:
        text = doc.text
        texts.extend(text[s:e] if s >= 0 else None for s, e in zip(doc.char_start.tolist(), doc.char_end.tolist()))
        domains.extend([doc.domain] * doc.n_tokens)
    return {"token_text": pa.array(texts, pa.string()), "domain": pa.array(domains, pa.string())}
