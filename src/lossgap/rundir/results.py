"""The files of `results/`: one table of every results file with its columns and their kinds, the typed
summary of a comparison, and the CSV/JSON reading and writing that `compare`, `curves` and `report` share.

Adding a column to a results file means adding it to `RESULTS` here; writers must provide it and readers get
it typed. docs/results.md describes every column.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from lossgap.errors import SchemaError
from lossgap.rundir.names import default_result_name

__all__ = [
    "Column",
    "ResultsTable",
    "RESULTS",
    "HeadlineRow",
    "DiscoverSummary",
    "ResultRecord",
    "Summary",
    "default_result_name",
    "file_kind",
    "table_to_csv",
    "table_from_csv",
]

Kind = Literal["text", "int", "float"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


@dataclass(frozen=True)
class ResultsTable:
    """One CSV file of results/: its name, the stage that writes it, its columns in order."""

    filename: str
    stage: Literal["compare", "curves", "training", "discover"]
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _table(filename: str, stage: Literal["compare", "curves", "training", "discover"], spec: str) -> ResultsTable:
    """`spec` lists `name:kind` pairs separated by spaces (kind t, i or f)."""
    kinds: dict[str, Kind] = {"t": "text", "i": "int", "f": "float"}
    return ResultsTable(filename, stage, tuple(Column(n, kinds[k]) for n, k in (c.split(":") for c in spec.split())))


_INTERVAL = "ci_low:f ci_high:f"
_SEEDS = "seed_sd:f n_replicates:i"  # seed replicates (analysis.replicates)
# Columns added after runs were written with the table: an older file without them reads with these values,
# and a writer that leaves them out writes them (one seed pair: no seed spread).
ADDED_COLUMNS: dict[str, float] = {"seed_sd": float("nan"), "n_replicates": 1, "divergence": float("nan")}
_SUPPORT = "n_tokens:i n_docs:i n_eff_docs:f"
_CONTRAST = "family:t contrast:t level:t reference:t scope:t"
RESULTS: dict[str, ResultsTable] = {
    t.filename: t
    for t in (
        _table("categories.csv", "compare",
               f"feature:t value:t level_1:t level_2:t level_3:t {_SUPPORT} mean_loss_baseline:f mean_loss_candidate:f mean_gap:f {_INTERVAL} p:f q:f "
               "mean_rel_gap:f rel_ci_low:f rel_ci_high:f share_of_gap:f share_ci_low:f share_ci_high:f "
               f"share_of_tokens:f macro_mean_gap:f macro_ci_low:f macro_ci_high:f {_SEEDS} note:t"),
        _table("contrasts.csv", "compare",
               f"{_CONTRAST} method:t scale:t estimate:f {_INTERVAL} p:f p_adjusted:f p_primary:f q:f {_SUPPORT} {_SEEDS} "
               "note:t"),
        _table("sensitivity.csv", "compare", f"{_CONTRAST} controls:t estimate:f {_INTERVAL} p:f"),
        _table("marginal_means.csv", "compare",
               f"factor:t level:t population:t estimate:f {_INTERVAL} p:f q:f {_SUPPORT} {_SEEDS} note:t"),
        _table("repeat_curve.csv", "compare", f"kind:t bin:t bin_order:i {_SUPPORT} mean_gap:f {_INTERVAL} {_SEEDS} note:t"),
        _table("top_tokens.csv", "compare",
               "direction:t rank:i doc_id:t pos:i domain:t token_text:t loss_baseline:f loss_candidate:f gap:f "
               "divergence:f"),
        # beyond the true token (analysis.distribution): entropy, top-1 accuracy and divergence per category
        _table("distribution.csv", "compare",
               "feature:t value:t level_1:t level_2:t level_3:t n_tokens:i n_eff_docs:f entropy_baseline:f "
               "entropy_candidate:f entropy_gap:f entropy_gap_ci_low:f entropy_gap_ci_high:f top1_baseline:f "
               "top1_candidate:f top1_diff:f top1_diff_ci_low:f top1_diff_ci_high:f divergence:f divergence_ci_low:f "
               f"divergence_ci_high:f divergence_max:f {_SEEDS} note:t"),
        _table("top_segments.csv", "compare",
               "direction:t rank:i doc_id:t pos_start:i pos_end:i n_tokens:i mean_gap:f sum_gap:f text:t"),
        _table("top_documents.csv", "compare", "direction:t rank:i doc_id:t domain:t n_tokens:i mean_gap:f sum_gap:f"),
        _table("curves.csv", "curves", f"series:t step:i name:t mask:t {_SUPPORT} mean_loss:f {_INTERVAL} {_SEEDS} note:t"),
        _table("curves_diff.csv", "curves",
               f"step:i mask:t series:t reference:t n_tokens:i n_eff_docs:f estimate:f {_INTERVAL} p:f q:f "
               f"did_estimate:f did_ci_low:f did_ci_high:f did_p:f did_q:f rel_estimate:f rel_ci_low:f rel_ci_high:f "
               f"rel_did_estimate:f rel_did_ci_low:f rel_did_ci_high:f {_SEEDS} note:t"),
        # the in-loop evaluator's log (lossgap.inloop.write_training_curves): branch is the main-run step an
        # annealing branch left from, empty on the main run
        _table("training.csv", "training", "series:t step:i branch:i mask:t mean_loss:f"),
        # `discover` (analysis.discover): the selected slices, search-half figures (search_*) then the held-out half's
        _table("slices.csv", "discover",
               "rank:i slice:t conditions:t n_conditions:i feature_1:t value_1:t feature_2:t value_2:t feature_3:t "
               "value_3:t search_n_tokens:i search_n_eff_docs:f search_mean_gap:f search_diff:f search_t:f "
               f"search_score:f {_SUPPORT} mean_loss_baseline:f mean_loss_candidate:f mean_gap:f {_INTERVAL} p:f "
               "mean_rel_gap:f rel_ci_low:f rel_ci_high:f share_of_gap:f share_ci_low:f share_ci_high:f "
               "share_of_tokens:f diff:f diff_ci_low:f diff_ci_high:f diff_p:f diff_p_holm:f rel_diff:f "
               f"rel_diff_ci_low:f rel_diff_ci_high:f {_SEEDS} sql:t note:t"),
        _table("slice_examples.csv", "discover",
               "rank:i slice:t example:i doc_id:t pos:i domain:t token_text:t loss_baseline:f loss_candidate:f gap:f"),
    )
}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class HeadlineRow:
    """One headline figure of a comparison: the mean gap over a preset mask, with its interval, and the
    difference-in-differences: the mask's gap minus the gap on every other token (how much more the candidate
    leads there than elsewhere)."""

    label: str
    n_tokens: int
    n_docs: int = 0
    n_eff_docs: float = float("nan")
    mean_gap: float
    ci_low: float
    ci_high: float
    did_estimate: float = float("nan")
    did_ci_low: float = float("nan")
    did_ci_high: float = float("nan")
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Summary:
    """summary.json: the overall comparison of candidate against baseline (gap = baseline − candidate, nats).

    Figures that cannot be computed (no tokens) are NaN here and null in the file.
    """

    baseline: str
    candidate: str
    n_tokens: int
    n_docs: int
    mean_loss_baseline: float
    mean_loss_candidate: float
    mean_gap: float
    ci_low: float
    ci_high: float
    macro_mean_gap: float
    macro_ci_low: float = float("nan")  # t interval over documents of the macro (document-weighted) mean gap
    macro_ci_high: float = float("nan")
    missing: dict[str, int] = field(default_factory=dict)
    interval: str = "bootstrap"
    bootstrap: int = 1000
    seed: int = 0
    confidence: float = 0.95
    min_eff_docs: float = 10.0
    headline: tuple[HeadlineRow, ...] = ()
    notes: tuple[str, ...] = ()  # what a reader must know: few documents, models that saw different contexts, …
    log_freq_source: str = ""  # what log_freq counts (features.rarity)
    n_tests: int = 0  # p-values the comparison's tables hold; their `q` is Benjamini–Hochberg over all of them
    # seed replicates (analysis.replicates): every seed of each side, empty without; intervals then cover seeds
    baselines: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    seed_sd: float = float("nan")  # between-seed spread of one pair's mean gap
    n_replicates: int = 1  # (baseline seed, candidate seed) pairs averaged


ResultKind = Literal["compare", "curves", "training", "discover"]
RECORD = "result.json"  # each named result's record, in results/NAME/
SUMMARY = "summary.json"
DISCOVER_SUMMARY = "discover.json"


@dataclass(frozen=True, kw_only=True)
class DiscoverSummary:
    """discover.json: how a slice search ran (analysis.discover): what it searched, on which half, what it kept."""

    baseline: str
    candidate: str
    baselines: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    max_conditions: int = 2
    criterion: str = "t"
    bins: int = 5
    min_tokens: int = 200
    min_cut: float = 0.1
    split_seed: int = 0
    n_docs_search: int = 0
    n_tokens_search: int = 0
    n_docs_held: int = 0
    n_tokens_held: int = 0
    mean_gap_held: float = float("nan")
    n_scored: int = 0  # slices with enough tokens, scored on the search half
    n_eligible: int = 0  # of those, with enough effective documents
    n_selected: int = 0
    interval: str = "cr2"
    confidence: float = 0.95
    notes: tuple[str, ...] = ()
    time: str = ""


REGRESSION = "regression.txt"


@dataclass(frozen=True, kw_only=True)
class ResultRecord:
    """One named result of a run: results/NAME/ holds its files and this record (result.json).

    `compare` results name their baseline and candidate, `curves` and `training` results their series. A run
    written by lossgap before named results has its files in results/ itself: that result's name is ""."""

    name: str
    kind: ResultKind
    baseline: str = ""
    candidate: str = ""
    series: tuple[str, ...] = ()
    time: str = ""
    # a comparison of seed replicates: every seed of each side (the first is `baseline` / `candidate`)
    baselines: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The result in words: "B vs A" for a comparison (with its seeds counted), its series otherwise."""
        if self.kind in ("compare", "discover"):
            seeds = lambda names, first: f"{first} (+{len(names) - 1} seeds)" if len(names) > 1 else first  # noqa: E731
            pair = f"{seeds(self.candidates, self.candidate)} vs {seeds(self.baselines, self.baseline)}"
            return pair if self.kind == "compare" else f"slices found: {pair}"
        what = "checkpoint curves" if self.kind == "curves" else "training curves"
        return f"{what}: {', '.join(self.series)}" if self.series else what

    def same_question(self, other: ResultRecord) -> bool:
        """Whether `other` answers the same question (then writing it may replace this result)."""
        question = lambda r: (r.kind, r.baseline, r.candidate, r.series, r.baselines, r.candidates)  # noqa: E731
        return question(self) == question(other)


def file_kind(filename: str) -> ResultKind:
    """The kind of result a results file belongs to."""
    if filename in (SUMMARY, REGRESSION):
        return "compare"
    if filename == DISCOVER_SUMMARY:
        return "discover"
    if filename not in RESULTS:
        raise SchemaError(f"results/{filename}: not a results file lossgap knows ({', '.join(sorted(RESULTS))})")
    stage = RESULTS[filename].stage
    return stage


def table_to_csv(table: ResultsTable, frame: pd.DataFrame) -> str:
    """The CSV text of `frame`'s contract columns, in contract order, floats at full precision (an empty
    frame: the header alone)."""
    if frame.empty:
        frame = frame.reindex(columns=table.names)
    frame = frame.assign(**{c: v for c, v in ADDED_COLUMNS.items() if c in table.names and c not in frame.columns})
    missing = [c for c in table.names if c not in frame.columns]
    if missing:
        raise SchemaError(f"results/{table.filename}: the writer gave no column(s) {', '.join(missing)}")
    return frame[table.names].to_csv(index=False, float_format="%.10g")


def _with_level_parts(frame: pd.DataFrame) -> pd.DataFrame:
    """categories.csv written before its levels had columns: a crossed grouping's (feature `a+b`) value `x|y` is
    split into level_1, level_2, … here, once, for every reader; a single grouping's value is its level_1."""
    parts = {c: [] for c in ("level_1", "level_2", "level_3")}
    for feature, value in zip(frame["feature"].astype(str), frame["value"].astype(str), strict=True):
        n = feature.count("+") + 1
        pieces = value.split("|", n - 1) if n > 1 else [value]
        for i, column in enumerate(parts):
            parts[column].append(pieces[i] if i < len(pieces) else "")
    return frame.assign(**parts)


def table_from_csv(table: ResultsTable, text: str, where: str) -> pd.DataFrame:
    """A results CSV with its contract columns typed; SchemaError naming `where` and the column otherwise."""
    text_columns = [c.name for c in table.columns if c.kind == "text"]
    try:
        frame = pd.read_csv(io.StringIO(text), dtype={c: str for c in text_columns}, keep_default_na=False,
                            na_values=[""])  # fmt: skip
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SchemaError(f"{where}: not a readable CSV ({exc}); rerun the stage that wrote it") from exc
    frame = frame.assign(**{c: v for c, v in ADDED_COLUMNS.items() if c in table.names and c not in frame.columns})
    if "level_1" in table.names and "level_1" not in frame.columns and "value" in frame.columns:
        frame = _with_level_parts(frame)
    missing = [c for c in table.names if c not in frame.columns]
    if missing:
        raise SchemaError(f"{where}: missing column(s) {', '.join(missing)}; rerun `lossgap {table.stage}`")
    for column in table.columns:
        if column.kind == "text":
            frame[column.name] = frame[column.name].fillna("").astype(str)
            continue
        try:
            frame[column.name] = pd.to_numeric(frame[column.name])
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"{where}: column {column.name!r} is not numeric ({exc})") from exc
    return frame


def json_text(data: object) -> str:
    """Indented strict JSON (NaN already turned into null by `to_json`)."""
    return json.dumps(data, indent=2, allow_nan=False) + "\n"
