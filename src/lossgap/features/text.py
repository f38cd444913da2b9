"""The token's own text and its document's domain: writes `token_text`, `domain` and `domain_type`."""

from __future__ import annotations

import pyarrow as pa

from lossgap.features.config import domain_type
from lossgap.features.records import Chunk, Resources

__all__ = ["annotate_text"]


def annotate_text(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """`token_text` = text[char_start:char_end] (null for special tokens; a byte-level token that holds part
    of a character shows the whole character, as its offsets do), `domain` copied from the corpus, and
    `domain_type`: prose, markup or code (`features.config.domain_type`)."""
    texts: list[str | None] = []
    domains: list[str] = []
    types: list[str] = []
    for doc in chunk.docs:
        text = doc.text
        texts.extend(
            text[s:e] if s >= 0 else None for s, e in zip(doc.char_start.tolist(), doc.char_end.tolist(), strict=True)
        )
        domains.extend([doc.domain] * doc.n_tokens)
        types.extend([domain_type(doc.domain, resources.prose_domains)] * doc.n_tokens)
    return {"token_text": pa.array(texts, pa.string()), "domain": pa.array(domains, pa.string()),
            "domain_type": pa.array(types, pa.string())}  # fmt: skip
