"""Per-(document, group) loss sums from the joined table, and their summary with document-bootstrap intervals.

A *grouping* is a named SQL expression over the joined table whose value puts a token in a group (NULL: in
none). Categories, the headline masks and the repeat curve are all groupings summarized the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from lossgap.analysis.bootstrap import ratio_intervals
from lossgap.analysis.join import JOINED_TABLE
from lossgap.errors import ConfigError

__all__ = ["Grouping", "GROUP_COLUMNS", "BootstrapSpec", "document_sums", "summarize_groups"]

GROUP_COLUMNS = [
    "feature", "value", "n_tokens", "n_docs", "mean_loss_baseline", "mean_loss_candidate",
    "mean_gap", "ci_low", "ci_high", "macro_mean_gap",
]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Grouping:
    """A named SQL expression giving each token's group value (cast to text; NULL puts it in no group)."""

    feature: str
    expr: str
    order: tuple[str, ...] | None = None  # natural order of the values (bins); None: most tokens first


@dataclass(frozen=True, kw_only=True)
class BootstrapSpec:
    """How intervals are computed: document resamples, seed, and coverage."""

    resamples: int
    seed: int
    confidence: float

    def __post_init__(self) -> None:
        if self.resamples < 10:
            raise ConfigError(f"--bootstrap must be at least 10 resamples (1000 recommended), got {self.resamples}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"--confidence must be in [0.5, 1), got {self.confidence}")


def document_sums(
    con: duckdb.DuckDBPyConnection, groupings: Sequence[Grouping], where: str = "TRUE"
) -> pd.DataFrame:
    """Long table of sums per (grouping, value, document): group, value, doc_idx, n_tokens, sum_baseline, sum_candidate.

    `group` is the grouping's index in `groupings`. One scan of the joined table per grouping.
    """
    parts = [
        f"""SELECT {k} AS "group", value, doc_idx, count(*) AS n_tokens,
                   sum(loss_baseline) AS sum_baseline, sum(loss_candidate) AS sum_candidate
            FROM (SELECT doc_idx, loss_baseline, loss_candidate, CAST(({g.expr}) AS VARCHAR) AS value
                  FROM {JOINED_TABLE} WHERE {where})
            WHERE value IS NOT NULL GROUP BY value, doc_idx"""
        for k, g in enumerate(groupings)
    ]
    sql = " UNION ALL ".join(parts)
    return con.execute(sql).df()


def _order_key(groupings: Sequence[Grouping], table: pd.DataFrame) -> np.ndarray:
    """Sort key within each grouping: the natural order when given, else most tokens first."""
    key = -table["n_tokens"].to_numpy(np.float64)
    for k, g in enumerate(groupings):
        if g.order is None:
            continue
        rank = {v: i for i, v in enumerate(g.order)}
        mine = table["group"].to_numpy() == k
        key[mine] = [rank.get(v, len(rank)) for v in table.loc[mine, "value"]]
    return key


def summarize_groups(
    sums: pd.DataFrame, groupings: Sequence[Grouping], *, n_docs: int, bootstrap: BootstrapSpec
) -> pd.DataFrame:
    """One row per (grouping, value): counts, mean losses, mean gap with its interval, document-macro gap.

    mean_gap is the token-weighted mean of baseline minus candidate loss; macro_mean_gap averages each
    document's own mean gap (documents with a token in the group), so long documents do not dominate it.
    """
    if sums.empty:
        return pd.DataFrame(columns=["group", *GROUP_COLUMNS])
    keys = sums[["group", "value"]].astype({"group": np.int64})
    cols, uniques = pd.MultiIndex.from_frame(keys).factorize()
    doc_idx = sums["doc_idx"].to_numpy(np.int64)
    n = sums["n_tokens"].to_numpy(np.float64)
    gap = sums["sum_baseline"].to_numpy(np.float64) - sums["sum_candidate"].to_numpy(np.float64)
    n_cols = len(uniques)
    tokens = np.bincount(cols, weights=n, minlength=n_cols)
    table = pd.DataFrame(
        {
            "group": uniques.get_level_values(0).to_numpy(),
            "feature": [groupings[k].feature for k in uniques.get_level_values(0)],
            "value": uniques.get_level_values(1).to_numpy(),
            "n_tokens": tokens.astype(np.int64),
            "n_docs": np.bincount(cols, minlength=n_cols).astype(np.int64),
            "mean_loss_baseline": np.bincount(cols, weights=sums["sum_baseline"].to_numpy(), minlength=n_cols) / tokens,
            "mean_loss_candidate": np.bincount(cols, weights=sums["sum_candidate"].to_numpy(), minlength=n_cols) / tokens,
            "mean_gap": np.bincount(cols, weights=gap, minlength=n_cols) / tokens,
        }
    )
    intervals = ratio_intervals(
        doc_idx=doc_idx,
        group_idx=cols,
        numerator=gap,
        denominator=n,
        n_docs=n_docs,
        n_groups=n_cols,
        resamples=bootstrap.resamples,
        seed=bootstrap.seed,
        confidence=bootstrap.confidence,
    )
    table["ci_low"] = intervals.low
    table["ci_high"] = intervals.high
    table["macro_mean_gap"] = np.bincount(cols, weights=gap / n, minlength=n_cols) / table["n_docs"].to_numpy()
    table["_key"] = _order_key(groupings, table)
    table = table.sort_values(["group", "_key", "value"], kind="stable").drop(columns="_key")
    return table[["group", *GROUP_COLUMNS]].reset_index(drop=True)
