"""`compare`: the gap between two scorings per category, with document-bootstrap intervals, a regression,
the repeat curve and the most extreme tokens. Reads scores and features; writes results/ (docs/results.md).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from lossgap.analysis.bootstrap import FEW_DOCUMENTS
from lossgap.analysis.categories import default_groupings, user_grouping
from lossgap.analysis.groups import GROUP_COLUMNS, BootstrapSpec, Grouping, document_sums, summarize_groups
from lossgap.analysis.join import JOINED_TABLE, MissingTokens, connect, feature_columns, join_pair, require_features
from lossgap.analysis.masks import HEADLINE, PRESETS
from lossgap.analysis.regression import CONTROLS, REGRESSION_COLUMNS, RegressionSpec, describe, fit_regression, regression_frame
from lossgap.analysis.repeat_curve import REPEAT_CURVE_COLUMNS, repeat_curve_table, repeat_groupings
from lossgap.analysis.results import record_in_manifest, write_json, write_tables
from lossgap.analysis.top import TOP_DOCUMENT_COLUMNS, TOP_SEGMENT_COLUMNS, TOP_TOKEN_COLUMNS, top_documents, top_segments, top_tokens
from lossgap.errors import ConfigError, LossgapError
from lossgap.rundir import RunDir, validate_name

__all__ = ["CompareConfig", "HeadlineRow", "CompareResult", "compute_compare", "run_compare"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CompareConfig:
    """Options of `lossgap compare`; the defaults here are the only defaults."""

    baseline: str
    candidate: str
    by: tuple[str, ...] = ()  # extra groupings: a feature column, or columns joined with '+'
    default_groupings: bool = True
    bootstrap: int = 1000  # document resamples
    seed: int = 0
    confidence: float = 0.95
    regression_categories: tuple[str, ...] = ("word_class", "bracket_side")
    regression_controls: tuple[str, ...] = CONTROLS
    # statsmodels holds the design matrix (and its pseudo-inverse) in memory: beyond this many tokens, fit
    # on a seeded sample of whole documents (500k tokens x ~25 columns: ~100 MB per copy, a few seconds).
    regression_max_tokens: int = 500_000
    top_k: int = 50
    segment_tokens: int = 32
    top_min_doc_tokens: int = 50

    def __post_init__(self) -> None:
        for option in ("baseline", "candidate"):
            try:
                validate_name(getattr(self, option))
            except LossgapError as exc:
                raise ConfigError(f"--{option}: {exc}") from None
        if self.baseline == self.candidate:
            raise ConfigError(f"--baseline and --candidate are both {self.baseline!r}: compare two different scorings")
        self.bootstrap_spec()  # validates --bootstrap and --confidence
        for option in ("top_k", "segment_tokens", "top_min_doc_tokens"):
            if getattr(self, option) < 1:
                raise ConfigError(f"--{option.replace('_', '-')} must be positive, got {getattr(self, option)}")
        if not self.default_groupings and not self.by:
            raise ConfigError("no groupings: give --by COLUMN or keep the default groupings")
        # validated on creation, not when the regression runs after minutes of work
        self.regression_spec()

    def regression_spec(self) -> RegressionSpec:
        return RegressionSpec(
            categories=self.regression_categories,
            controls=self.regression_controls,
            max_tokens=self.regression_max_tokens,
            seed=self.seed,
            confidence=self.confidence,
        )

    def bootstrap_spec(self) -> BootstrapSpec:
        return BootstrapSpec(resamples=self.bootstrap, seed=self.seed, confidence=self.confidence)


@dataclass(frozen=True, kw_only=True)
class HeadlineRow:
    """One headline figure: the mean gap over a preset mask, with its interval."""

    label: str
    mean_gap: float
    ci_low: float
    ci_high: float
    n_tokens: int


@dataclass(frozen=True, kw_only=True)
class CompareResult:
    """Everything `compare` computes; `run_compare` writes it to results/."""

    config: CompareConfig
    n_tokens: int
    n_docs: int
    missing: MissingTokens
    overall: pd.Series  # the `all` row: n_tokens, mean losses, mean_gap, ci_low, ci_high, macro_mean_gap
    headline: tuple[HeadlineRow, ...]
    categories: pd.DataFrame
    regression: pd.DataFrame
    regression_formula: str
    repeat_curve: pd.DataFrame
    top_tokens: pd.DataFrame
    top_segments: pd.DataFrame
    top_documents: pd.DataFrame

    def summary(self) -> dict[str, object]:
        """summary.json's content."""
        return {
            "baseline": self.config.baseline,
            "candidate": self.config.candidate,
            "n_tokens": self.n_tokens,
            "n_docs": self.n_docs,
            "mean_loss_baseline": float(self.overall["mean_loss_baseline"]),
            "mean_loss_candidate": float(self.overall["mean_loss_candidate"]),
            "mean_gap": float(self.overall["mean_gap"]),
            "ci_low": float(self.overall["ci_low"]),
            "ci_high": float(self.overall["ci_high"]),
            "macro_mean_gap": float(self.overall["macro_mean_gap"]),
            "missing": dataclasses.asdict(self.missing),
            "bootstrap": self.config.bootstrap,
            "seed": self.config.seed,
            "confidence": self.config.confidence,
            "headline": [dataclasses.asdict(h) for h in self.headline],
        }


def _check_columns(config: CompareConfig, columns: list[str]) -> list[Grouping]:
    """The user groupings; ConfigError for any option naming a column that features.parquet lacks."""
    unknown = [c for c in config.regression_categories if c not in columns]
    if unknown:
        raise ConfigError(
            f"--regression-category {', '.join(unknown)}: no such feature column; available: {', '.join(columns)}"
        )
    return [user_grouping(spec, columns) for spec in config.by]


def _headline_row(head: pd.DataFrame, label: str) -> HeadlineRow:
    """The headline figure of one mask (NaN figures and 0 tokens when the mask selects nothing)."""
    if label not in head.index:
        return HeadlineRow(label=label, mean_gap=float("nan"), ci_low=float("nan"), ci_high=float("nan"), n_tokens=0)
    row = head.loc[label]
    return HeadlineRow(
        label=label, mean_gap=float(row["mean_gap"]), ci_low=float(row["ci_low"]), ci_high=float(row["ci_high"]),
        n_tokens=int(row["n_tokens"]),
    )  # fmt: skip


def compute_compare(con: duckdb.DuckDBPyConnection, run_dir: RunDir, config: CompareConfig) -> CompareResult:
    """Join, aggregate, bootstrap, regress and rank, on connection `con` (see `run_compare`)."""
    require_features(run_dir)
    columns = feature_columns(run_dir)
    user = _check_columns(config, columns)
    extra = [p for spec in config.by for p in spec.split("+")] + list(config.regression_categories)
    missing = join_pair(con, run_dir, baseline=config.baseline, candidate=config.candidate, extra_columns=extra)
    totals = con.execute(f"SELECT count(*), count(DISTINCT doc_idx) FROM {JOINED_TABLE}").fetchone()
    assert totals is not None
    n_tokens, n_docs = int(totals[0]), int(totals[1])
    _log.info("comparing %s (baseline) and %s (candidate) on %d tokens in %d documents", config.baseline, config.candidate, n_tokens, n_docs)
    if n_docs < FEW_DOCUMENTS:
        _log.warning("only %d documents: document-bootstrap intervals are rough below ~%d", n_docs, FEW_DOCUMENTS)

    headline = [Grouping(feature=label, expr=f"CASE WHEN {PRESETS[label]} THEN '{label}' END") for label in HEADLINE]
    defaults = default_groupings(con) if config.default_groupings else []
    known = {g.feature for g in defaults}
    extra_groupings = {g.feature: g for g in user if g.feature not in known}  # --by word_class is already there
    categories = defaults + list(extra_groupings.values())
    repeats = repeat_groupings()
    groupings = [*headline, *categories, *repeats]
    sums = document_sums(con, groupings)
    table = summarize_groups(sums, groupings, n_docs=n_docs, bootstrap=config.bootstrap_spec())
    head = table[table["group"] < len(headline)].set_index("feature")
    cats = table[(table["group"] >= len(headline)) & (table["group"] < len(headline) + len(categories))]
    reps = table[table["group"] >= len(headline) + len(categories)]

    spec = config.regression_spec()
    fit = fit_regression(regression_frame(con, spec), spec)
    return CompareResult(
        config=config,
        n_tokens=n_tokens,
        n_docs=n_docs,
        missing=missing,
        overall=head.loc["all"],
        headline=tuple(_headline_row(head, label) for label in HEADLINE),
        categories=cats[GROUP_COLUMNS].reset_index(drop=True),
        regression=fit.table,
        regression_formula=describe(fit, spec, n_docs),
        repeat_curve=repeat_curve_table(reps),
        top_tokens=top_tokens(con, config.top_k),
        top_segments=top_segments(con, config.top_k, config.segment_tokens),
        top_documents=top_documents(con, config.top_k, config.top_min_doc_tokens),
    )


def run_compare(run_dir: RunDir | Path | str, config: CompareConfig) -> CompareResult:
    """Compute the comparison, then write results/summary.json and the CSV tables; nothing is written on error."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    with connect() as con:
        result = compute_compare(con, run_dir, config)
    write_tables(
        run_dir,
        {
            "categories.csv": (result.categories, GROUP_COLUMNS),
            "regression.csv": (result.regression, REGRESSION_COLUMNS),
            "repeat_curve.csv": (result.repeat_curve, REPEAT_CURVE_COLUMNS),
            "top_tokens.csv": (result.top_tokens, TOP_TOKEN_COLUMNS),
            "top_segments.csv": (result.top_segments, TOP_SEGMENT_COLUMNS),
            "top_documents.csv": (result.top_documents, TOP_DOCUMENT_COLUMNS),
        },
    )
    run_dir.write_text(run_dir.results_path("regression_formula.txt"), result.regression_formula)
    write_json(run_dir, "summary.json", result.summary())
    record_in_manifest(run_dir, "compare", config)
    _log.info("wrote %s", run_dir.results_dir)
    return result
