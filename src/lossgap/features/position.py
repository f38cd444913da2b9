"""Position in the document, for the regression to hold fixed: writes `log_pos` = log10(pos), null at pos 0."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lossgap.features.records import Chunk, Resources

__all__ = ["annotate_position"]


def annotate_position(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """`log_pos`: log10 of the 0-based position; the BOS at position 0 (never scored) gets null."""
    pos = np.concatenate([np.arange(d.n_tokens, dtype=np.float64) for d in chunk.docs] + [np.zeros(0)])
    with np.errstate(divide="ignore"):
        values = np.log10(pos)
    return {"log_pos": pa.array(values, pa.float64(), mask=pos == 0)}
