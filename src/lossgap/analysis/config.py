"""The options of `compare` and `curves`: frozen configs whose defaults are the only defaults.

Light on purpose (no pandas, DuckDB or statsmodels), so that the CLI can read the defaults for its help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from lossgap.errors import ConfigError, LossgapError
from lossgap.rundir.categories import DEFAULT_MASKS
from lossgap.rundir.names import default_result_name, validate_name

__all__ = [
    "CONTROLS",
    "DEFAULT_MASKS",
    "Interval",
    "IntervalSpec",
    "PairSpec",
    "CompareConfig",
    "Criterion",
    "DiscoverConfig",
    "Series",
    "CurvesConfig",
    "step_of",
]

Interval = Literal["cr2", "bootstrap"]
# What the regression holds fixed: rarity and position in quantile bins, repetition in repeat_len bins, the
# token's place in its word, and the domain (see analysis.regression).
CONTROLS = ("log_freq", "log_pos", "repeat_len", "word_piece", "domain")
_STEP = re.compile(r"@(?:step)?(\d+)$")


def _positive(name: str, value: int, lowest: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ConfigError(f"--{name.replace('_', '-')} must be an integer >= {lowest}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class IntervalSpec:
    """How intervals are computed, shared by compare and curves.

    interval: `cr2` (default): t intervals from cluster-robust standard errors clustered by document (the
        CR2 bias-reduced estimator with Bell–McCaffrey degrees of freedom); `bootstrap`: percentile intervals
        of a bootstrap over documents. docs/analysis.md gives the coverage each reached in simulations.
    min_eff_docs: below this effective number of documents (Kish) a group gets no interval (NaN, with a note).
    """

    interval: Interval = "cr2"
    bootstrap: int = 1000  # resamples (interval = bootstrap)
    seed: int = 0
    confidence: float = 0.95
    min_eff_docs: float = 10.0

    def __post_init__(self) -> None:
        if self.interval not in get_args(Interval):
            raise ConfigError(f"--interval {self.interval!r}: choose one of {', '.join(get_args(Interval))}")
        if isinstance(self.bootstrap, bool) or not isinstance(self.bootstrap, int) or self.bootstrap < 10:
            raise ConfigError(f"--bootstrap must be at least 10 resamples (1000 recommended), got {self.bootstrap}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"--confidence must be in [0.5, 1), got {self.confidence}")
        if not self.min_eff_docs >= 2:
            raise ConfigError(f"--min-eff-docs must be at least 2, got {self.min_eff_docs}")


@dataclass(frozen=True, kw_only=True)
class PairSpec(IntervalSpec):
    """The two sides of a comparison (compare, discover): a baseline and a candidate scoring, each with more seeds
    (models trained alike, other seeds) in `*_replicates`; the CLI's repeated --baseline / --candidate fill them.
    With replicates, estimates are of the sides' mean losses with intervals over documents and seeds
    (analysis.replicates)."""

    baseline: str
    candidate: str
    baseline_replicates: tuple[str, ...] = ()
    candidate_replicates: tuple[str, ...] = ()
    name: str | None = None  # the result's name (results/NAME/); each kind has its default

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_result_name(self.name)
        for option in ("baseline", "candidate"):
            names = getattr(self, f"{option}s")
            for name in names:
                try:
                    validate_name(name)
                except LossgapError as exc:
                    raise ConfigError(f"--{option}: {exc}") from None
            if len(set(names)) != len(names):
                raise ConfigError(f"--{option} names a scoring twice ({', '.join(names)}): each seed once")
        both = sorted(set(self.baselines) & set(self.candidates))
        if both:
            raise ConfigError(f"--baseline and --candidate are both {both[0]!r}: compare two different scorings")

    @property
    def baselines(self) -> tuple[str, ...]:
        """Every seed of the baseline side (one name without replicates)."""
        return (self.baseline, *self.baseline_replicates)

    @property
    def candidates(self) -> tuple[str, ...]:
        """Every seed of the candidate side (one name without replicates)."""
        return (self.candidate, *self.candidate_replicates)


@dataclass(frozen=True, kw_only=True)
class CompareConfig(PairSpec):
    """Options of `lossgap compare`.

    by: extra groupings, each a tuple of feature columns (one column, or several crossed).
    references: (grouping, level) pairs naming the reference level of a grouping's contrasts (default: its
        most frequent level). A grouping is named by its columns joined with '+', e.g. `domain+upos`.
    controls: what the regression holds fixed (CONTROLS); `control_bins`: quantile bins of log_freq and log_pos.
    primary: families of contrasts declared before looking (e.g. word_class, brackets): contrasts.csv's
        `p_primary` adjusts their p-values together (Holm), the claims a study rests on.
    Seeds: PairSpec. name: default BASELINE-vs-CANDIDATE.
    """

    by: tuple[tuple[str, ...], ...] = ()
    references: tuple[tuple[str, str], ...] = ()
    default_groupings: bool = True
    controls: tuple[str, ...] = CONTROLS
    control_bins: int = 20
    top_k: int = 50
    segment_tokens: int = 32
    top_min_doc_tokens: int = 50
    primary: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(set(self.primary)) != len(self.primary) or not all(isinstance(f, str) and f for f in self.primary):
            raise ConfigError(f"--primary: give each family of contrasts once, got {list(self.primary)}")
        for columns in self.by:
            if not isinstance(columns, tuple) or not columns or not all(isinstance(c, str) and c for c in columns):
                raise ConfigError(f"--by {columns!r}: a grouping is one or more feature column names")
        for pair in self.references:
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, str) and p for p in pair)):
                raise ConfigError(f"--reference {pair!r}: give a grouping and one of its levels")
        unknown = [c for c in self.controls if c not in CONTROLS]
        if unknown:
            raise ConfigError(f"--control {', '.join(unknown)}: unknown; choose from {', '.join(CONTROLS)}")
        _positive("control_bins", self.control_bins, 2)
        for option in ("top_k", "segment_tokens", "top_min_doc_tokens"):
            _positive(option, getattr(self, option))
        if not self.default_groupings and not self.by:
            raise ConfigError("no groupings: give --by COLUMN or keep the default groupings")

    @property
    def result_name(self) -> str:
        """results/NAME/ of this comparison: --name, else BASELINE-vs-CANDIDATE (each side's seeds joined by +)."""
        return self.name or default_result_name("compare", baseline="+".join(self.baselines),
                                                candidate="+".join(self.candidates))  # fmt: skip


Criterion = Literal["t", "excess"]


@dataclass(frozen=True, kw_only=True)
class DiscoverConfig(PairSpec):
    """Options of `lossgap discover` (analysis.discover): search slices, conjunctions of at most
    `max_conditions` feature values, on a random half of the documents; estimate the `top_k` on the other half.

    features: the columns searched (default: every column of DISCOVER_FEATURES the run has); numeric ones are cut
        into `bins` quantile bins of the search half (repeat_len into compare's bins).
    criterion: `t` (default): the slice's gap minus the rest's over its document-clustered standard error;
        `excess`: that difference times the slice's share of the tokens (nats per token of the whole gap it moves).
    min_tokens: tokens a slice needs in the search half; min_cut: a conjunction must leave out at least this share of
        each of its parents' tokens, and score beyond each parent, to count (else the parent says it already).
    split_seed: which documents make the search half; examples: tokens shown per slice.
    Seeds: PairSpec. name: default discover-BASELINE-vs-CANDIDATE.
    """

    features: tuple[str, ...] = ()
    bins: int = 5
    max_conditions: int = 2
    top_k: int = 10
    criterion: Criterion = "t"
    min_tokens: int = 200
    min_cut: float = 0.1
    split_seed: int = 0
    examples: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(set(self.features)) != len(self.features):
            raise ConfigError(f"--feature given twice: {', '.join(self.features)}")
        _positive("bins", self.bins, 2)
        _positive("top_k", self.top_k)
        _positive("min_tokens", self.min_tokens, 2)
        _positive("examples", self.examples, 0)
        if self.max_conditions not in (1, 2, 3):
            raise ConfigError(f"--max-conditions must be 1, 2 or 3, got {self.max_conditions!r}")
        if self.criterion not in get_args(Criterion):
            raise ConfigError(f"--criterion {self.criterion!r}: choose one of {', '.join(get_args(Criterion))}")
        if not 0 <= self.min_cut < 1:
            raise ConfigError(f"--min-cut must be in [0, 1), got {self.min_cut}")

    @property
    def result_name(self) -> str:
        """results/NAME/ of this search: --name, else discover-BASELINE-vs-CANDIDATE."""
        return self.name or default_result_name("discover", baseline="+".join(self.baselines),
                                                candidate="+".join(self.candidates))  # fmt: skip


def step_of(name: str) -> int | None:
    """The training step in a scored name: the integer after its final `@step` or `@` (None if it has none).

    >>> step_of("hybrid-1b@step10000"), step_of("model@500"), step_of("model")
    (10000, 500, None)
    """
    match = _STEP.search(name)
    return int(match.group(1)) if match else None


def _check_result_name(name: str | None) -> None:
    if name is not None:
        try:
            validate_name(name)
        except LossgapError as exc:
            raise ConfigError(f"--name: {str(exc).replace('model name', 'result name')}") from None


@dataclass(frozen=True, kw_only=True)
class Series:
    """The checkpoints of one model: scored names NAME@STEP. `names` empty: every scored `label@STEP` of the run.

    `seeds`: the labels of more seed replicates of the same recipe, each scored as `SEED@STEP` (the CLI's
    `--series-seed LABEL SEED`); the series is then the mean over its seeds at every step they share, with
    intervals over documents and seeds (analysis.replicates)."""

    label: str
    names: tuple[str, ...] = ()
    seeds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise ConfigError("a series needs a label (e.g. the scored names' common part, 'hybrid-1b')")
        for name in self.names:
            try:
                validate_name(name)
            except LossgapError as exc:
                raise ConfigError(f"series {self.label}: {exc}") from None
            if step_of(name) is None:
                raise ConfigError(
                    f"series {self.label}: {name!r} has no step; each checkpoint is a scored name ending in @stepN or "
                    "@N, e.g. hybrid-1b@step10000"
                )
        steps = [step_of(n) for n in self.names]
        if len(set(steps)) != len(steps):
            raise ConfigError(f"series {self.label}: a step appears twice ({', '.join(self.names)})")
        if self.seeds and self.names:
            raise ConfigError(f"series {self.label}: seeds are found as SEED@STEP; give them without explicit names")
        members = self.members
        if len(set(members)) != len(members) or not all(isinstance(m, str) and m.strip() for m in members):
            raise ConfigError(
                f"series {self.label}: each seed once, and not the series' own label ({', '.join(members)})"
            )

    @property
    def members(self) -> tuple[str, ...]:
        """The series' label and its seeds' labels."""
        return (self.label, *self.seeds)


@dataclass(frozen=True, kw_only=True)
class CurvesConfig(IntervalSpec):
    """Options of `lossgap curves`: the series, the masks, and the reference series of the paired differences
    (default: the first series)."""

    series: tuple[Series, ...]
    masks: tuple[str, ...] = DEFAULT_MASKS
    reference: str | None = None
    name: str | None = None  # the result's name (results/NAME/); default curves-SERIES-…

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_result_name(self.name)
        if not self.series or not all(isinstance(s, Series) for s in self.series):
            raise ConfigError("give at least one --series")
        labels = [s.label for s in self.series]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"--series labels must differ, got: {', '.join(labels)}")
        members = [m for s in self.series for m in s.members]
        if len(set(members)) != len(members):
            raise ConfigError(f"a seed belongs to one series only, got: {', '.join(members)}")
        if self.reference is not None and self.reference not in labels:
            raise ConfigError(f"--reference {self.reference!r} is not a series ({', '.join(labels)})")
        if not self.masks:
            raise ConfigError("give at least one --mask")
        if len(set(self.masks)) != len(self.masks):
            raise ConfigError(f"--mask given twice: {', '.join(self.masks)}")

    @property
    def reference_label(self) -> str:
        return self.reference or self.series[0].label

    @property
    def result_name(self) -> str:
        """results/NAME/ of these curves: --name, else curves-SERIES-…"""
        return self.name or default_result_name("curves", series=tuple(s.label for s in self.series))
