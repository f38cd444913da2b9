"""OLS of the per-token gap on category indicators plus controls, with standard errors clustered by document.

Reads a whole-document sample of the joined table; returns the coefficient table and the formula it fitted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import statsmodels.api as sm

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


@dataclass
class _Design:
    """Columns of the design matrix as they are built, with their names and the formula's terms."""

    columns: list[np.ndarray]
    names: list[str]
    terms: list[str]
    notes: list[str]
    n_category_columns: int = 0

    def indicators(self, levels: pd.Series, term: str, coding: str, reference: str | None = None) -> None:
        """Add a categorical term: `full` (one column per level), `treatment` (all but `reference`) or `sum`."""
        cats = sorted(levels.unique())
        codes = pd.Categorical(levels, categories=cats).codes
        self.terms.append(term)
        if coding == "full":
            for j, level in enumerate(cats):
                self.columns.append((codes == j).astype(np.float64))
                self.names.append(f"{term}[{level}]")
        elif coding == "treatment":
            for j, level in enumerate(cats):
                if level != reference:
                    self.columns.append((codes == j).astype(np.float64))
                    self.names.append(f"{term}[T.{level}]")
        else:  # sum-to-zero: level j against the last level, which gets -1 in every column
            last = codes == len(cats) - 1
            for j, level in enumerate(cats[:-1]):
                self.columns.append((codes == j).astype(np.float64) - last)
                self.names.append(f"{term}[S.{level}]")


def _design(frame: pd.DataFrame, spec: RegressionSpec) -> _Design:
    design = _Design(columns=[], names=[], terms=[], notes=[])
    categories = list(dict.fromkeys(spec.categories))
    for i, category in enumerate(categories):
        levels = _categorical(frame, category)
        if i == 0:
            design.indicators(levels, f"C({category})", "full")
        elif levels.nunique() > 1:
            ref = _reference(levels)
            design.indicators(levels, f"C({category}, Treatment({ref!r}))", "treatment", ref)
        else:
            design.notes.append(f"category {category!r} has one level in the sample and was left out")
    if not categories:
        design.columns.append(np.ones(len(frame)))
        design.names.append("Intercept")
    design.n_category_columns = len(design.columns)
    for control, coding in (("repeat_len_bin", "treatment"), ("domain", "sum")):
        if control not in spec.controls:
            continue
        if control in categories:
            design.notes.append(f"control {control!r} is also a category and enters once, as a category")
            continue
        levels = _categorical(frame, control)
        if levels.nunique() < 2:
            design.notes.append(f"control {control!r} has one level in the sample and was left out")
            continue
        ref = _reference(levels, "0")
        term = f"C({control}, Treatment({ref!r}))" if coding == "treatment" else f"C({control}, Sum)"
        design.indicators(levels, term, coding, ref)
    for control in ("log_freq", "log_pos"):
        if control not in spec.controls:
            continue
        values = frame[control].to_numpy(np.float64)
        if not np.nanstd(values) > 0:
            design.notes.append(f"control {control!r} is constant in the sample and was left out")
            continue
        design.columns.append(values - np.nanmean(values))
        design.names.append(f"{control}_c")
        design.terms.append(f"{control}_c")
    return design


def _aliased_controls(x: np.ndarray, names: list[str], n_fixed: int) -> list[int]:
    """Indices of control columns (after the first `n_fixed`) that add no rank to the columns kept before them.

    In a corpus with prose and code, word_class is null exactly in the code and markup domains, so its
    "(null)" indicator is a sum of domain indicators: one domain column is aliased and is dropped (as R's lm
    reports aliased coefficients as NA) instead of failing the whole fit.
    """
    gram = x.T @ x
    scale = np.sqrt(np.diag(gram))
    norm = gram / np.outer(np.where(scale > 0, scale, 1), np.where(scale > 0, scale, 1))
    kept, aliased = list(range(n_fixed)), []
    for j in range(n_fixed, x.shape[1]):
        trial = [*kept, j]
        if scale[j] > 0 and np.linalg.matrix_rank(norm[np.ix_(trial, trial)], tol=1e-9) == len(trial):
            kept.append(j)
        else:
            aliased.append(j)
    return aliased


def fit_regression(frame: pd.DataFrame, spec: RegressionSpec) -> RegressionResult:
    """Fit gap ~ 0 + categories + controls by OLS, standard errors clustered by document (t with G-1 df).

    Coding, chosen so the first category's coefficients read as gaps: the first category enters with one
    indicator per level (no intercept), so each coefficient is that level's expected gap at the reference
    of everything else; further categories are treatment-coded against their most frequent level; the
    continuous controls (log_freq, log_pos) are centered on their sample means; repeat_len_bin is
    treatment-coded against 0 (never seen before); domain uses sum-to-zero coding, so level coefficients
    average over domains rather than describe one of them. Rows with a NULL log_freq are dropped (noted).
    Term names follow patsy's, so the table reads against the formula; the design is built with numpy
    (patsy's per-value categorical handling takes minutes on a million tokens).
    """
    design = _design(frame, spec)
    notes = design.notes
    formula = "gap ~ " + " + ".join(["0" if spec.categories else "1", *design.terms])
    x = np.column_stack(design.columns) if design.columns else np.empty((len(frame), 0))
    y = frame["gap"].to_numpy(np.float64)
    groups = frame["doc_idx"].to_numpy()
    keep = np.isfinite(x).all(axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} tokens without log_freq were left out")
        x, y, groups = x[keep], y[keep], groups[keep]
    n_docs = int(len(np.unique(groups)))

    def empty(reason: str) -> RegressionResult:
        notes.append(reason)
        _log.warning("regression: %s", reason)
        return RegressionResult(
            table=pd.DataFrame(columns=REGRESSION_COLUMNS), formula=formula, n_tokens=len(y), n_docs=n_docs, notes=tuple(notes)
        )

    if n_docs < 2 or len(y) <= x.shape[1] + 1:
        return empty("too few documents or tokens to fit; table left empty")
    names = list(design.names)
    aliased = _aliased_controls(x, names, design.n_category_columns)
    if aliased:
        notes.append(
            "control column(s) aliased with the categories and other controls, dropped: "
            + ", ".join(names[j] for j in aliased)
        )
        x = np.delete(x, aliased, axis=1)
        names = [n for j, n in enumerate(names) if j not in set(aliased)]
    gram = x.T @ x
    if np.linalg.matrix_rank(gram) < x.shape[1]:
        return empty(
            "the design is collinear (a category or control is determined by the others, e.g. word_class by upos); "
            "table left empty: choose fewer --regression-category / --regression-control"
        )
    if n_docs <= x.shape[1]:
        notes.append(
            f"only {n_docs} documents for {x.shape[1]} coefficients: standard errors clustered by document are "
            "unreliable with fewer clusters than coefficients; read the intervals as rough"
        )
        _log.warning("regression: %s", notes[-1])
    fit = sm.OLS(y, x, hasconst=True).fit(method="pinv", cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    interval = np.asarray(fit.conf_int(alpha=1 - spec.confidence))
    table = pd.DataFrame(
        {
            "term": names,
            "coef": np.asarray(fit.params),
            "se": np.asarray(fit.bse),
            "ci_low": interval[:, 0],
            "ci_high": interval[:, 1],
            "p": np.asarray(fit.pvalues),
        }
    )
    for note in notes:
        _log.info("regression: %s", note)
    return RegressionResult(table=table, formula=formula, n_tokens=len(y), n_docs=n_docs, notes=tuple(notes))


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
