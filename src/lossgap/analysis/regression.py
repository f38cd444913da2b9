"""OLS of the per-token gap on category indicators plus controls, with standard errors clustered by document.

Reads a whole-document sample of the joined table; returns the coefficient table and the formula it fitted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from lossgap.analysis.categories import repeat_len_bin_expr
from lossgap.analysis.join import JOINED_TABLE, quote_ident
from lossgap.errors import ConfigError

__all__ = ["CONTROLS", "REGRESSION_COLUMNS", "RegressionSpec", "RegressionResult", "regression_frame", "fit_regression", "describe"]

CONTROLS = ("log_freq", "repeat_len_bin", "log_pos", "domain")
REGRESSION_COLUMNS = ["term", "coef", "se", "ci_low", "ci_high", "p"]
_NULL_LEVEL = "(null)"
_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RegressionSpec:
    """Which indicators and controls enter the regression, and how large a document sample it fits."""

    categories: tuple[str, ...]
    controls: tuple[str, ...]
    max_tokens: int
    seed: int
    confidence: float

    def __post_init__(self) -> None:
        unknown = [c for c in self.controls if c not in CONTROLS]
        if unknown:
            raise ConfigError(f"regression control(s) {', '.join(unknown)} unknown; choose from {', '.join(CONTROLS)}")
        if self.max_tokens < 1:
            raise ConfigError(f"regression max_tokens must be positive, got {self.max_tokens}")


@dataclass(frozen=True, kw_only=True)
class RegressionResult:
    """The coefficient table, the formula fitted, and what it was fitted on."""

    table: pd.DataFrame  # REGRESSION_COLUMNS
    formula: str
    n_tokens: int
    n_docs: int
    notes: tuple[str, ...]


def regression_frame(con: duckdb.DuckDBPyConnection, spec: RegressionSpec) -> pd.DataFrame:
    """gap, doc_idx, the category columns and the raw controls for a random sample of whole documents.

    Whole documents keep the clustering intact; documents are taken in a seeded random order until the
    next one would pass `max_tokens` (all of them when the run is smaller).
    """
    sizes = con.execute(f"SELECT doc_idx, count(*) AS n FROM {JOINED_TABLE} GROUP BY doc_idx ORDER BY doc_idx").df()
    order = np.random.default_rng(spec.seed).permutation(len(sizes))
    cumulative = np.cumsum(sizes["n"].to_numpy()[order])
    keep = order[: max(1, int(np.searchsorted(cumulative, spec.max_tokens, side="right")))]
    chosen = pd.DataFrame({"doc_idx": np.sort(sizes["doc_idx"].to_numpy()[keep]).astype(np.int32)})
    con.register("regression_docs", chosen)
    columns = ["gap", "doc_idx", *(quote_ident(c) for c in dict.fromkeys(spec.categories))]
    if "log_freq" in spec.controls:
        columns.append("log_freq")
    if "log_pos" in spec.controls:
        columns.append("log_pos")
    if "domain" in spec.controls and "domain" not in spec.categories:
        columns.append("domain")
    if "repeat_len_bin" in spec.controls:
        columns.append(f"{repeat_len_bin_expr()} AS repeat_len_bin")
    try:
        return con.execute(
            f"SELECT {', '.join(columns)} FROM {JOINED_TABLE} WHERE doc_idx IN (SELECT doc_idx FROM regression_docs)"
        ).df()
    finally:
        con.unregister("regression_docs")


def _categorical(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("string").fillna(_NULL_LEVEL).astype(str)


def _reference(levels: pd.Series, preferred: str | None = None) -> str:
    counts = levels.value_counts()
    return preferred if preferred in counts.index else str(counts.index[0])


def fit_regression(frame: pd.DataFrame, spec: RegressionSpec) -> RegressionResult:
    """Fit gap ~ 0 + categories + controls by OLS, standard errors clustered by document (t with G-1 df).

    Coding, chosen so the first category's coefficients read as gaps: the first category enters with one
    indicator per level (no intercept), so each coefficient is that level's expected gap at the reference
    of everything else; further categories are treatment-coded against their most frequent level; the
    continuous controls (log_freq, log_pos) are centered on their sample means; repeat_len_bin is
    treatment-coded against 0 (never seen before); domain uses sum-to-zero coding, so level coefficients
    average over domains rather than describe one of them. Rows with a NULL log_freq are dropped (noted).
    """
    notes: list[str] = []
    data = pd.DataFrame({"gap": frame["gap"].to_numpy(np.float64), "doc_idx": frame["doc_idx"].to_numpy()})
    terms: list[str] = []
    for i, category in enumerate(dict.fromkeys(spec.categories)):
        levels = _categorical(frame, category)
        name = f"cat_{i}"
        data[name] = levels.to_numpy()
        if i == 0:
            terms.append(f"C({name})")
        elif levels.nunique() > 1:
            terms.append(f"C({name}, Treatment({_reference(levels)!r}))")
        else:
            notes.append(f"category {category!r} has one level in the sample and was left out")
    for control in ("log_freq", "log_pos"):
        if control not in spec.controls:
            continue
        values = frame[control].to_numpy(np.float64)
        if np.nanstd(values) == 0:
            notes.append(f"control {control!r} is constant in the sample and was left out")
            continue
        data[f"{control}_c"] = values - np.nanmean(values)
        terms.append(f"{control}_c")
    for control, coding in (("repeat_len_bin", "Treatment"), ("domain", "Sum")):
        if control not in spec.controls:
            continue
        if control in spec.categories:
            notes.append(f"control {control!r} is also a category and enters once, as a category")
            continue
        levels = _categorical(frame, control)
        if levels.nunique() < 2:
            notes.append(f"control {control!r} has one level in the sample and was left out")
            continue
        data[control] = levels.to_numpy()
        contrast = f"Treatment({_reference(levels, '0')!r})" if coding == "Treatment" else "Sum"
        terms.append(f"C({control}, {contrast})")
    if "log_freq_c" in data:
        dropped = int(data["log_freq_c"].isna().sum())
        if dropped:
            notes.append(f"{dropped} tokens without log_freq were left out")
            data = data.dropna(subset=["log_freq_c"])
    names = {f"cat_{i}": c for i, c in enumerate(dict.fromkeys(spec.categories))}
    formula = "gap ~ " + (" + ".join(["0", *terms]) if spec.categories else " + ".join(["1", *terms]))
    n_docs = int(data["doc_idx"].nunique())
    readable = _rename(formula, names)
    if n_docs < 2 or len(data) <= len(terms) + 1:
        notes.append("too few documents or tokens to fit; table left empty")
        return RegressionResult(
            table=pd.DataFrame(columns=REGRESSION_COLUMNS), formula=readable, n_tokens=len(data), n_docs=n_docs, notes=tuple(notes)
        )
    fit = smf.ols(formula, data).fit(cov_type="cluster", cov_kwds={"groups": data["doc_idx"].to_numpy()}, use_t=True)
    interval = fit.conf_int(alpha=1 - spec.confidence)
    terms_out = [_rename(t, names) for t in fit.params.index]
    table = pd.DataFrame(
        {
            "term": terms_out,
            "coef": fit.params.to_numpy(),
            "se": fit.bse.to_numpy(),
            "ci_low": interval.iloc[:, 0].to_numpy(),
            "ci_high": interval.iloc[:, 1].to_numpy(),
            "p": fit.pvalues.to_numpy(),
        }
    )
    for note in notes:
        _log.info("regression: %s", note)
    return RegressionResult(table=table, formula=readable, n_tokens=len(data), n_docs=n_docs, notes=tuple(notes))


def _rename(term: str, names: dict[str, str]) -> str:
    """Put the user's column names back in place of the formula aliases."""
    for alias, column in names.items():
        term = term.replace(f"C({alias}", f"C({column}")
    return term


def describe(result: RegressionResult, spec: RegressionSpec, sample_of: int) -> str:
    """The text of regression_formula.txt: the formula, coding, sample and notes."""
    lines = [
        result.formula,
        "",
        f"OLS; standard errors clustered by document (t intervals, {spec.confidence:.0%}, G-1 df).",
        f"fitted on {result.n_tokens} tokens in {result.n_docs} documents"
        + (f" (a seeded sample of whole documents, seed {spec.seed}, of {sample_of} documents)" if result.n_docs < sample_of else ""),
        "coding: first category one indicator per level (no intercept); later categories treatment-coded against "
        "their most frequent level; log_freq_c, log_pos_c centered on their sample means; repeat_len_bin "
        "treatment-coded against 0; domain sum-to-zero coded.",
        *result.notes,
    ]
    return "\n".join(lines) + "\n"
