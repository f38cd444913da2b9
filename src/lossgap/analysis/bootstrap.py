"""Document bootstrap of ratio-of-sums means from per-document sums (no token-level data needed).

Cost grows with documents x resamples x groups (sparse), never with tokens x resamples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["FEW_DOCUMENTS", "Intervals", "document_weights", "ratio_intervals"]

_CHUNK = 64  # resamples per weights block: bounds memory at chunk x documents counts
# Below this many documents a percentile bootstrap over documents under-covers noticeably; callers warn.
FEW_DOCUMENTS = 30


@dataclass(frozen=True, kw_only=True)
class Intervals:
    """Percentile bootstrap interval per group (NaN where the group never occurs in a resample)."""

    low: np.ndarray  # (groups,)
    high: np.ndarray  # (groups,)


def document_weights(n_docs: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of multinomial weights (rows: resamples, columns: documents), each row summing to `n_docs`.

    Row r says how many times each document is drawn in resample r (n_docs draws with replacement):
    the ordinary bootstrap over documents. Deterministic given `seed`.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, _CHUNK):
        rows = min(_CHUNK, resamples - start)
        draws = rng.integers(0, n_docs, size=(rows, n_docs))
        flat = (draws + (np.arange(rows) * n_docs)[:, None]).ravel()
        yield np.bincount(flat, minlength=rows * n_docs).reshape(rows, n_docs).astype(np.float64)


def ratio_intervals(
    *,
    doc_idx: np.ndarray,
    group_idx: np.ndarray,
    numerator: np.ndarray,
    denominator: np.ndarray,
    n_docs: int,
    n_groups: int,
    resamples: int,
    seed: int,
    confidence: float,
) -> Intervals:
    """Bootstrap intervals of sum(numerator)/sum(denominator) per group, resampling documents.

    Inputs are parallel arrays of per-(document, group) sums, e.g. numerator = sum of gaps and
    denominator = token count of that document in that group. A resample reweights each document by
    how often it was drawn; the group's statistic is the ratio of reweighted sums (a token-weighted
    mean over the resampled corpus). Resamples in which a group has no token are left out for that group.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    shape = (n_docs, n_groups)
    num = sparse.csc_matrix((np.asarray(numerator, np.float64), (doc_idx, group_idx)), shape=shape)
    den = sparse.csc_matrix((np.asarray(denominator, np.float64), (doc_idx, group_idx)), shape=shape)
    stats = np.empty((resamples, n_groups))
    start = 0
    for weights in document_weights(n_docs, resamples, seed):
        rows = weights.shape[0]
        num_w = np.asarray(num.T @ weights.T).T  # (rows, groups)
        den_w = np.asarray(den.T @ weights.T).T
        with np.errstate(divide="ignore", invalid="ignore"):
            stats[start : start + rows] = np.where(den_w > 0, num_w / np.where(den_w > 0, den_w, 1.0), np.nan)
        start += rows
    alpha = 1.0 - confidence
    low = np.full(n_groups, np.nan)
    high = np.full(n_groups, np.nan)
    seen = ~np.all(np.isnan(stats), axis=0)
    if seen.any():
        low[seen], high[seen] = np.nanquantile(stats[:, seen], [alpha / 2, 1 - alpha / 2], axis=0)
    return Intervals(low=low, high=high)
