"""Token keys: (doc_id, pos) of a run table packed into one int64 (document number << 32 | pos), and matching.

Reads only the doc_id and pos columns of a Parquet file. Matching sorted integer keys with numpy is several
times faster than a hash join on (string, int) pairs at 10M tokens, and needs no temporary files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lossgap.errors import RunDirError

__all__ = ["TableKeys", "read_keys", "document_index", "packed_keys", "match_keys", "dense_documents"]


@dataclass(frozen=True, kw_only=True)
class TableKeys:
    """The (doc_id, pos) column pair of one file: doc_id as codes into `doc_ids`."""

    path: Path
    doc_ids: np.ndarray  # (distinct doc ids,) object
    codes: np.ndarray  # (rows,) int32 into doc_ids
    pos: np.ndarray  # (rows,) int32


def read_keys(path: Path) -> TableKeys:
    """Read doc_id (dictionary-encoded) and pos of a run table."""
    table = pq.read_table(path, columns=["doc_id", "pos"], read_dictionary=["doc_id"])
    doc = table["doc_id"].unify_dictionaries().combine_chunks() if table.num_rows else pa.array([], pa.dictionary(pa.int32(), pa.string()))
    if isinstance(doc, pa.ChunkedArray):
        doc = doc.combine_chunks()
    if doc.null_count:
        raise RunDirError(f"{path}: {doc.null_count} rows have a null doc_id; re-create this file")
    return TableKeys(
        path=path,
        doc_ids=np.asarray(doc.dictionary.to_pylist(), dtype=object),
        codes=np.asarray(doc.indices.to_numpy(zero_copy_only=False), dtype=np.int32),
        pos=np.asarray(table["pos"].to_numpy(), dtype=np.int32),
    )


def document_index(*tables: TableKeys) -> pd.Index:
    """The sorted distinct doc ids of `tables`: a document's number is its position here."""
    return pd.Index(np.unique(np.concatenate([t.doc_ids for t in tables]).astype(str)))


def packed_keys(table: TableKeys, documents: pd.Index) -> np.ndarray:
    """One int64 per row: document number << 32 | pos; -1 where the document is not in `documents`."""
    if table.pos.size and table.pos.min() < 0:
        raise RunDirError(f"{table.path}: negative pos {table.pos.min()}; re-create this file")
    number = documents.get_indexer(table.doc_ids.astype(str)).astype(np.int64)[table.codes]
    keys = (number << 32) | table.pos
    keys[number < 0] = -1
    return keys


def _sorted_view(keys: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the valid keys in key order, and those keys; RunDirError on a repeated key."""
    rows = np.flatnonzero(keys >= 0)
    valid = keys[rows]
    if valid.size > 1 and not np.all(valid[1:] > valid[:-1]):  # not already strictly increasing: sort
        order = np.argsort(valid, kind="stable")
        rows, valid = rows[order], valid[order]
        repeated = np.flatnonzero(valid[1:] == valid[:-1])
        if repeated.size:
            first = valid[repeated[0]]
            raise RunDirError(
                f"{path}: {repeated.size} repeated (doc_id, pos) rows (first: document #{first >> 32}, pos {first & 0xFFFFFFFF}); "
                "each token may appear once: re-create this file"
            )
    return rows, valid


def match_keys(left: np.ndarray, right: np.ndarray, left_path: Path, right_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers (left_rows, right_rows) of the keys present in both, in increasing key order."""
    left_rows, left_sorted = _sorted_view(left, left_path)
    right_rows, right_sorted = _sorted_view(right, right_path)
    if right_sorted.size == 0:
        return left_rows[:0], right_rows[:0]
    at = np.minimum(np.searchsorted(right_sorted, left_sorted), right_sorted.size - 1)
    hit = right_sorted[at] == left_sorted
    return left_rows[hit], right_rows[at[hit]]


def dense_documents(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For increasing packed keys: each key's document renumbered 0..D-1, and the document numbers present."""
    number = keys >> 32
    starts = np.concatenate([[True], number[1:] != number[:-1]])
    return (np.cumsum(starts) - 1).astype(np.int32), number[starts]
