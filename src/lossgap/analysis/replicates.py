"""Seed replicates: a side of a comparison given as several scorings of models trained alike with different seeds.

The estimate is the mean over every (baseline seed, candidate seed) pair, which for the token-weighted means,
contrasts and regressions of `compare` is the estimate computed on the per-token gap between the two sides'
mean losses (each side averaged over its seeds). Its interval covers both sources of variance:

- **documents**: the usual interval (CR2 or bootstrap over documents) of that estimate, whose half-width gives a
  standard error se_doc = half / z (z the normal quantile: with few documents this overstates se_doc, a
  conservative choice);
- **seeds**: the same estimate computed once per seed of a side, that seed against the other side's mean
  (baseline seed i: gap = loss_i − mean candidate loss), gives the between-seed variance s²_side of each side;
  the mean over R seeds varies by s²_side / R.

Var = se_doc² + s²_b / R_b + s²_c / R_c, with Satterthwaite's degrees of freedom from the seed terms (R − 1 each;
the document term counted as having many): with 2 or 3 seeds a side the t quantile is large, as it must be.
The between-seed variance measured on the same documents also holds the seed × document interaction once more,
so the interval errs wide, not narrow (coverage: `benchmarks/interval_coverage.py`, docs/analysis.md). A side
with one seed contributes no seed variance (it cannot be estimated), and the rows say so.

`seed_sd` is the between-seed spread of one pair's estimate, sqrt(s²_b + s²_c); `n_replicates` the number of
pairs averaged (R_b × R_c). A row whose variance is mostly the seeds' says so in its note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["SeedSpread", "TABLE_ESTIMATES", "combine_tables", "seed_note", "SEED_DOMINATES"]

# A row's note says that seeds dominate when they hold more than this share of the interval's variance.
SEED_DOMINATES = 0.5

# Per results table: (estimate, ci_low, ci_high, p or None) of each estimate it holds; the first gets
# seed_sd and n_replicates columns.
TABLE_ESTIMATES: dict[str, tuple[tuple[str, str, str, str | None], ...]] = {
    "categories.csv": (("mean_gap", "ci_low", "ci_high", "p"), ("mean_rel_gap", "rel_ci_low", "rel_ci_high", None),
                       ("share_of_gap", "share_ci_low", "share_ci_high", None),
                       ("macro_mean_gap", "macro_ci_low", "macro_ci_high", None)),
    "contrasts.csv": (("estimate", "ci_low", "ci_high", "p"),),
    "marginal_means.csv": (("estimate", "ci_low", "ci_high", "p"),),
    "repeat_curve.csv": (("mean_gap", "ci_low", "ci_high", None),),
    "distribution.csv": (("entropy_gap", "entropy_gap_ci_low", "entropy_gap_ci_high", None),
                         ("top1_diff", "top1_diff_ci_low", "top1_diff_ci_high", None)),
    "slices.csv": (("mean_gap", "ci_low", "ci_high", "p"), ("mean_rel_gap", "rel_ci_low", "rel_ci_high", None),
                   ("share_of_gap", "share_ci_low", "share_ci_high", None), ("diff", "diff_ci_low", "diff_ci_high", "diff_p"),
                   ("rel_diff", "rel_diff_ci_low", "rel_diff_ci_high", None)),
}  # fmt: skip


class SeedSpread:
    """Intervals of estimates that cover documents and seeds (see the module docstring)."""

    def __init__(self, estimate: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray, per_baseline: np.ndarray,
                 per_candidate: np.ndarray, confidence: float) -> None:  # fmt: skip
        """`per_baseline`: (R_b, n) estimates, one row per baseline seed against the candidates' mean; likewise
        `per_candidate` (R_c, n)."""
        self.estimate = np.asarray(estimate, np.float64)
        z = stats.norm.ppf(1 - (1 - confidence) / 2)
        se_doc = (np.asarray(ci_high, np.float64) - np.asarray(ci_low, np.float64)) / (2 * z)
        terms, spreads, dfs = [], [], []
        for per_seed in (np.asarray(per_baseline, np.float64), np.asarray(per_candidate, np.float64)):
            r = per_seed.shape[0]
            if r >= 2:
                s2 = np.var(per_seed, axis=0, ddof=1)
                terms.append(s2 / r)
                spreads.append(s2)
                dfs.append(r - 1)
        seed_var = np.sum(terms, axis=0) if terms else np.zeros_like(self.estimate)
        self.variance = se_doc**2 + seed_var
        with np.errstate(divide="ignore", invalid="ignore"):
            denominator = sum(t**2 / d for t, d in zip(terms, dfs, strict=True)) if terms else np.zeros_like(seed_var)
            self.df = np.where(denominator > 0, self.variance**2 / np.where(denominator > 0, denominator, 1), np.inf)
            self.seed_share = np.where(self.variance > 0, seed_var / self.variance, 0.0)
        self.seed_sd = np.sqrt(np.sum(spreads, axis=0)) if spreads else np.full_like(self.estimate, np.nan)
        se = np.sqrt(self.variance)
        quantile = stats.t.ppf(1 - (1 - confidence) / 2, self.df)
        self.ci_low, self.ci_high = self.estimate - quantile * se, self.estimate + quantile * se
        with np.errstate(divide="ignore", invalid="ignore"):
            self.p = np.where(se > 0, 2 * stats.t.sf(np.abs(self.estimate) / np.where(se > 0, se, 1), self.df),
                              np.where(self.estimate == 0, 1.0, 0.0))  # fmt: skip


def seed_note(old: str, share: float) -> str:
    """`old` note, with a word when seeds hold more than SEED_DOMINATES of the interval's variance."""
    if not share > SEED_DOMINATES:
        return old
    said = f"seeds dominate the interval ({share:.0%} of its variance)"
    return f"{old}; {said}" if old else said


def combine_tables(main: dict[str, pd.DataFrame], per_baseline: list[dict[str, pd.DataFrame]],
                   per_candidate: list[dict[str, pd.DataFrame]], confidence: float) -> dict[str, pd.DataFrame]:  # fmt: skip
    """The results tables of the seeds' mean with intervals over documents and seeds, `seed_sd`,
    `n_replicates` and a note where seeds dominate. Rows without an interval (too few documents) stay without."""
    n_pairs = max(1, len(per_baseline)) * max(1, len(per_candidate))
    out = dict(main)
    for file, specs in TABLE_ESTIMATES.items():
        table = main.get(file)
        if table is None or table.empty:
            continue
        table = table.copy()
        for k, (est, low, high, p) in enumerate(specs):
            if est not in table:
                continue
            per_side = [np.array([side[file][est].to_numpy(np.float64) for side in sides]).reshape(len(sides), len(table))
                        for sides in (per_baseline, per_candidate)]  # fmt: skip
            spread = SeedSpread(table[est], table[low], table[high], *per_side, confidence)
            shown = table[low].notna().to_numpy()
            table[low] = np.where(shown, spread.ci_low, np.nan)
            table[high] = np.where(shown, spread.ci_high, np.nan)
            if p is not None and p in table:
                table[p] = np.where(shown & table[p].notna().to_numpy(), spread.p, np.nan)
            if k == 0:
                table["seed_sd"] = spread.seed_sd
                table["n_replicates"] = n_pairs
                if "note" in table:
                    table["note"] = [seed_note(n if isinstance(n, str) else "", s if ok else 0.0)
                                     for n, s, ok in zip(table["note"], spread.seed_share, shown, strict=True)]  # fmt: skip
        out[file] = table
    return out
