"""Per-(document, level) sums of the compared tokens, and the table of level means with intervals
(categories.csv, the repeat curve, the headline): one SQL scan per grouping, then `estimate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from lossgap.analysis.config import IntervalSpec
from lossgap.analysis.estimate import Contrast, Estimates, LevelSums, estimate
from lossgap.analysis.groupings import Grouping
from lossgap.analysis.join import JOINED

__all__ = [
    "document_sums",
    "level_sums",
    "level_table",
    "macro_means",
    "relative_estimates",
    "shares_of_gap",
    "LEVEL_COLUMNS",
    "PART_COLUMNS",
]

PART_COLUMNS = ("level_1", "level_2", "level_3")  # a crossed level's parts (categories.csv), see Grouping.parts
LEVEL_COLUMNS = ["n_tokens", "n_docs", "n_eff_docs", "mean_loss_baseline", "mean_loss_candidate", "mean_gap",
                 "ci_low", "ci_high", "p", "mean_rel_gap", "rel_ci_low", "rel_ci_high", "share_of_gap", "share_ci_low",
                 "share_ci_high", "share_of_tokens", "macro_mean_gap", "macro_ci_low", "macro_ci_high", "note"]  # fmt: skip


def macro_means(doc_means: np.ndarray, level: np.ndarray, n_levels: int, spec: IntervalSpec) -> tuple[np.ndarray, ...]:
    """The document-weighted (macro) mean of each level: the mean of its documents' own mean gaps, with a t interval
    over those documents (each document one unit, all weighted alike); NaN below `min_eff_docs` documents.

    >>> m, lo, hi = macro_means(np.array([1.0, 2.0, 3.0, 5.0]), np.array([0, 0, 0, 1]), 2, IntervalSpec(min_eff_docs=2))
    >>> float(m[0]), round(float(hi[0] - m[0]), 3), float(m[1]), bool(np.isnan(lo[1]))
    (2.0, 2.484, 5.0, True)
    """
    count = np.bincount(level, minlength=n_levels).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(level, weights=doc_means, minlength=n_levels) / count
        squares = np.bincount(level, weights=(doc_means - mean[level]) ** 2, minlength=n_levels)
        se = np.sqrt(squares / (count - 1) / count)
        half = stats.t.ppf(1 - (1 - spec.confidence) / 2, np.maximum(count - 1, 1)) * se
    shown = count >= max(2.0, spec.min_eff_docs)
    return mean, np.where(shown, mean - half, np.nan), np.where(shown, mean + half, np.nan)


def document_sums(con: duckdb.DuckDBPyConnection, groupings: Sequence[Grouping], where: str = "TRUE") -> pd.DataFrame:
    """Long table per (grouping, level, document): group (index into `groupings`), level, doc_idx, n_tokens,
    sum_gap, sum_baseline, sum_candidate, and a crossed grouping's parts of the level (level_1 … level_3, each
    crossed column's own value; NULL beyond its parts)."""

    def part(g: Grouping, i: int) -> str:
        return f"CAST(({g.parts[i]}) AS VARCHAR)" if i < len(g.parts) else "CAST(NULL AS VARCHAR)"

    selects = [
        f"""SELECT {k} AS "group", level, doc_idx, count(*) AS n_tokens, sum(gap) AS sum_gap,
                   sum(loss_baseline) AS sum_baseline, sum(loss_candidate) AS sum_candidate,
                   {", ".join(f"any_value({c}) AS {c}" for c in PART_COLUMNS)}
            FROM (SELECT doc_idx, gap, loss_baseline, loss_candidate, CAST(({g.expr}) AS VARCHAR) AS level,
                         {", ".join(f"{part(g, i)} AS {c}" for i, c in enumerate(PART_COLUMNS))}
                  FROM {JOINED} WHERE {where})
            WHERE level IS NOT NULL GROUP BY level, doc_idx"""
        for k, g in enumerate(groupings)
    ]
    return con.execute(" UNION ALL ".join(selects)).df()


def level_sums(rows: pd.DataFrame, n_docs: int, order: Sequence[str] | None = None, value: str = "sum_gap",
               weight: str = "n_tokens") -> LevelSums:  # fmt: skip
    """The LevelSums of one grouping's rows of `document_sums`; levels in `order`, else most tokens first.

    `weight="sum_baseline"` makes each level's "mean" the ratio Σ gap / Σ baseline loss, the relative gap: a ratio
    of sums whose CR2 linearization is that of a mean weighted by the baseline's losses."""
    counts = rows.groupby("level")["n_tokens"].sum()
    if order is not None:
        names = [v for v in order if v in counts.index] + sorted(v for v in counts.index if v not in order)
    else:
        names = list(counts.sort_values(ascending=False, kind="stable").index)
    index = {v: i for i, v in enumerate(names)}
    return LevelSums(
        doc=rows["doc_idx"].to_numpy(np.int64),
        level=rows["level"].map(index).to_numpy(np.int64),
        n=rows[weight].to_numpy(np.float64),
        s=rows[value].to_numpy(np.float64),
        names=tuple(names),
        n_docs=n_docs,
    )


def relative_estimates(rows: pd.DataFrame, n_docs: int, order: Sequence[str] | None, contrasts: Sequence[Contrast],
                       spec: IntervalSpec) -> Estimates | None:  # fmt: skip
    """The contrasts on the relative scale (gap over the baseline's loss, ratio of sums), or None where the
    baseline's losses are unknown (a frame given gaps alone)."""
    if not np.isfinite(rows["sum_baseline"].to_numpy(np.float64)).all():
        return None
    return estimate(level_sums(rows, n_docs, order, weight="sum_baseline"), contrasts, spec)


def shares_of_gap(level_doc: np.ndarray, level: np.ndarray, s: np.ndarray, doc_total: np.ndarray, n_levels: int,
                  spec: IntervalSpec) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Each level's share of the total summed gap, S_k / T, with a t interval on G − 1 degrees of freedom from the
    ratio's linearization over documents, z_d = (s_kd − share_k · t_d) / T (t_d: document d's whole gap).

    A share is only as meaningful as its denominator: where the total gap is near zero, shares explode (and their
    intervals say so). `doc_total` holds every document's summed gap, documents without the level included.

    >>> share, low, high = shares_of_gap(np.array([0, 1, 2]), np.array([0, 0, 0]), np.array([1.0, 2.0, 3.0]),
    ...                                  np.array([2.0, 4.0, 6.0]), 1, IntervalSpec(min_eff_docs=2))
    >>> float(share[0]), float(low[0]), float(high[0])  # every document gives half its gap: no spread
    (0.5, 0.5, 0.5)
    """
    total = doc_total.sum()
    g = len(doc_total)
    per_doc = np.zeros((n_levels, g))
    np.add.at(per_doc, (level, level_doc), s)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = per_doc.sum(axis=1) / total
        z = (per_doc - share[:, None] * doc_total[None, :]) / total
        se = np.sqrt(g / max(g - 1, 1) * (z**2).sum(axis=1))
    half = stats.t.ppf(1 - (1 - spec.confidence) / 2, max(g - 1, 1)) * se
    ok = g >= 2 and total != 0
    return share, np.where(ok, share - half, np.nan), np.where(ok, share + half, np.nan)


def level_table(sums: pd.DataFrame, groupings: Sequence[Grouping], n_docs: int, spec: IntervalSpec,
                doc_total: np.ndarray | None = None, all_tokens: float = float("nan")) -> pd.DataFrame:  # fmt: skip
    """One row per (grouping, level): feature, value and LEVEL_COLUMNS; mean_gap token-weighted, mean_rel_gap the
    gap as a share of the baseline's loss on the same tokens, share_of_gap the level's part of the total summed gap
    (`doc_total`: every document's summed gap; NaN shares without it) beside share_of_tokens (of `all_tokens`),
    macro_mean_gap the mean of its documents' own mean gaps. Relative and share intervals are withheld where the level's own interval is."""
    frames = []
    for k, grouping in enumerate(groupings):
        rows = sums[sums["group"] == k]
        if rows.empty:
            continue
        ls = level_sums(rows, n_docs, grouping.order)
        alone = [Contrast((i,)) for i in range(ls.n_levels)]
        got: Estimates = estimate(ls, alone, spec)
        rel = relative_estimates(rows, n_docs, grouping.order, alone, spec)
        withheld = np.array([bool(note) for note in got.note]) | (rel is None)
        if rel is None:
            rel = dataclasses.replace(got, estimate=np.full(ls.n_levels, np.nan))
        tokens, _ = ls.totals()
        if doc_total is None:
            share = share_low = share_high = np.full(ls.n_levels, np.nan)
        else:
            share, share_low, share_high = shares_of_gap(ls.doc, ls.level, ls.s, doc_total, ls.n_levels, spec)
        index = {v: i for i, v in enumerate(ls.names)}
        level = rows["level"].map(index).to_numpy()
        base = np.bincount(level, weights=rows["sum_baseline"].to_numpy(), minlength=ls.n_levels) / tokens
        cand = np.bincount(level, weights=rows["sum_candidate"].to_numpy(), minlength=ls.n_levels) / tokens
        macro, macro_low, macro_high = macro_means(ls.s / ls.n, ls.level, ls.n_levels, spec)
        if grouping.parts:  # each level's own parts, as the query gave them (a value may itself hold '|')
            first = rows.drop_duplicates("level").set_index("level")
            parts = {c: ["" if pd.isna(first.at[v, c]) else first.at[v, c] for v in ls.names] for c in PART_COLUMNS}
        else:  # as the file holds them: no part is ""
            parts = {PART_COLUMNS[0]: list(ls.names), **{c: [""] * ls.n_levels for c in PART_COLUMNS[1:]}}
        frames.append(pd.DataFrame({
            "feature": grouping.name, "value": list(ls.names), **parts, "n_tokens": got.n_tokens, "n_docs": got.n_docs,
            "n_eff_docs": got.n_eff_docs, "mean_loss_baseline": base, "mean_loss_candidate": cand,
            "mean_gap": got.estimate, "ci_low": got.ci_low, "ci_high": got.ci_high, "p": got.p,
            "mean_rel_gap": rel.estimate, "rel_ci_low": np.where(withheld, np.nan, rel.ci_low),
            "rel_ci_high": np.where(withheld, np.nan, rel.ci_high), "share_of_gap": share,
            "share_ci_low": np.where(withheld, np.nan, share_low), "share_ci_high": np.where(withheld, np.nan, share_high),
            "share_of_tokens": tokens / all_tokens,
            "macro_mean_gap": macro, "macro_ci_low": macro_low, "macro_ci_high": macro_high, "note": got.note,
        }))  # fmt: skip
    columns = ["feature", "value", *PART_COLUMNS, *LEVEL_COLUMNS]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
