"""Per-(document, level) sums of the compared tokens, and the table of level means with intervals
(categories.csv, the repeat curve, the headline): one SQL scan per grouping, then `estimate`.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from lossgap.analysis.config import IntervalSpec
from lossgap.analysis.estimate import Contrast, Estimates, LevelSums, estimate
from lossgap.analysis.groupings import Grouping
from lossgap.analysis.join import JOINED

__all__ = ["document_sums", "level_sums", "level_table", "LEVEL_COLUMNS"]

LEVEL_COLUMNS = ["n_tokens", "n_docs", "n_eff_docs", "mean_loss_baseline", "mean_loss_candidate", "mean_gap",
                 "ci_low", "ci_high", "p", "macro_mean_gap", "note"]  # fmt: skip


def document_sums(con: duckdb.DuckDBPyConnection, groupings: Sequence[Grouping], where: str = "TRUE") -> pd.DataFrame:
    """Long table per (grouping, level, document): group (index into `groupings`), level, doc_idx, n_tokens,
    sum_gap, sum_baseline, sum_candidate."""
    parts = [
        f"""SELECT {k} AS "group", level, doc_idx, count(*) AS n_tokens, sum(gap) AS sum_gap,
                   sum(loss_baseline) AS sum_baseline, sum(loss_candidate) AS sum_candidate
            FROM (SELECT doc_idx, gap, loss_baseline, loss_candidate, CAST(({g.expr}) AS VARCHAR) AS level
                  FROM {JOINED} WHERE {where})
            WHERE level IS NOT NULL GROUP BY level, doc_idx"""
        for k, g in enumerate(groupings)
    ]
    return con.execute(" UNION ALL ".join(parts)).df()


def level_sums(rows: pd.DataFrame, n_docs: int, order: Sequence[str] | None = None, value: str = "sum_gap") -> LevelSums:
    """The LevelSums of one grouping's rows of `document_sums`; levels in `order`, else most tokens first."""
    counts = rows.groupby("level")["n_tokens"].sum()
    if order is not None:
        names = [v for v in order if v in counts.index] + sorted(v for v in counts.index if v not in order)
    else:
        names = list(counts.sort_values(ascending=False, kind="stable").index)
    index = {v: i for i, v in enumerate(names)}
    return LevelSums(
        doc=rows["doc_idx"].to_numpy(np.int64),
        level=rows["level"].map(index).to_numpy(np.int64),
        n=rows["n_tokens"].to_numpy(np.float64),
        s=rows[value].to_numpy(np.float64),
        names=tuple(names),
        n_docs=n_docs,
    )


def level_table(sums: pd.DataFrame, groupings: Sequence[Grouping], n_docs: int, spec: IntervalSpec) -> pd.DataFrame:
    """One row per (grouping, level): feature, value and LEVEL_COLUMNS; mean_gap token-weighted, macro_mean_gap
    the mean of its documents' own mean gaps."""
    frames = []
    for k, grouping in enumerate(groupings):
        rows = sums[sums["group"] == k]
        if rows.empty:
            continue
        ls = level_sums(rows, n_docs, grouping.order)
        got: Estimates = estimate(ls, [Contrast((i,)) for i in range(ls.n_levels)], spec)
        tokens, _ = ls.totals()
        index = {v: i for i, v in enumerate(ls.names)}
        level = rows["level"].map(index).to_numpy()
        base = np.bincount(level, weights=rows["sum_baseline"].to_numpy(), minlength=ls.n_levels) / tokens
        cand = np.bincount(level, weights=rows["sum_candidate"].to_numpy(), minlength=ls.n_levels) / tokens
        macro = np.bincount(level, weights=ls.s / ls.n, minlength=ls.n_levels) / np.bincount(level, minlength=ls.n_levels)
        frames.append(pd.DataFrame({
            "feature": grouping.name, "value": list(ls.names), "n_tokens": got.n_tokens, "n_docs": got.n_docs,
            "n_eff_docs": got.n_eff_docs, "mean_loss_baseline": base, "mean_loss_candidate": cand,
            "mean_gap": got.estimate, "ci_low": got.ci_low, "ci_high": got.ci_high, "p": got.p,
            "macro_mean_gap": macro, "note": got.note,
        }))  # fmt: skip
    columns = ["feature", "value", *LEVEL_COLUMNS]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
