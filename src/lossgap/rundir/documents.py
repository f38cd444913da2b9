"""Where each document's rows are in a table whose rows are grouped by document (tokens, scores, features)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["document_runs"]


def document_runs(doc_col: pa.Array | pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """The doc_id of each run of equal consecutive values and the run boundaries: run i is rows
    [starts[i], starts[i+1]) (starts has one more entry than there are runs; none for an empty column)."""
    col = doc_col.combine_chunks() if isinstance(doc_col, pa.ChunkedArray) else doc_col
    n = len(col)
    if n == 0:
        return [], np.zeros(1, np.int64)
    change = pc.not_equal(col.slice(1), col.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.flatnonzero(change) + 1, [n]]).astype(np.int64)
    return col.take(pa.array(starts[:-1])).to_pylist(), starts
