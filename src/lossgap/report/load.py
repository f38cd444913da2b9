"""Read what the report renders: results/*.csv and summary.json, the manifest, and corpus counts per domain.

Files written by `compare`/`curves` are validated against the results contract; an optional file that is
absent comes back as None so that its section is left out of the report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from lossgap.errors import RunDirError, SchemaError
from lossgap.rundir import RunDir

__all__ = [
    "DomainCount",
    "Headline",
    "ModelInfo",
    "Results",
    "RunOverview",
    "Summary",
    "read_overview",
    "read_results",
    "read_results_csv",
]

# Columns each results file must have (results contract); the string-valued ones are read as text.
_COLUMNS: dict[str, tuple[list[str], list[str]]] = {
    # file: (text columns, numeric columns)
    "categories.csv": (
        ["feature", "value"],
        ["n_tokens", "n_docs", "mean_loss_baseline", "mean_loss_candidate", "mean_gap", "ci_low", "ci_high",
         "macro_mean_gap"],
    ),
    "regression.csv": (["term"], ["coef", "se", "ci_low", "ci_high", "p"]),
    "repeat_curve.csv": (["kind", "bin"], ["bin_order", "n_tokens", "n_docs", "mean_gap", "ci_low", "ci_high"]),
    "curves.csv": (["series", "name", "mask"], ["step", "n_tokens", "mean_loss", "ci_low", "ci_high"]),
    "top_tokens.csv": (
        ["direction", "doc_id", "domain", "token_text"],
        ["rank", "pos", "loss_baseline", "loss_candidate", "gap"],
    ),
    "top_segments.csv": (
        ["direction", "doc_id", "text"],
        ["rank", "pos_start", "pos_end", "n_tokens", "mean_gap", "sum_gap"],
    ),
    "top_documents.csv": (["direction", "doc_id", "domain"], ["rank", "n_tokens", "mean_gap", "sum_gap"]),
}


@dataclass(frozen=True)
class Headline:
    label: str
    mean_gap: float | None  # None: null in summary.json (e.g. no tokens in this group)
    ci_low: float | None
    ci_high: float | None
    n_tokens: int


@dataclass(frozen=True)
class Summary:
    """summary.json: the overall comparison of candidate against baseline (gap = baseline − candidate, nats)."""

    baseline: str
    candidate: str
    n_tokens: int
    n_docs: int
    mean_loss_baseline: float | None  # None where summary.json has null
    mean_loss_candidate: float | None
    mean_gap: float | None
    ci_low: float | None
    ci_high: float | None
    macro_mean_gap: float | None
    confidence: float
    bootstrap: int | None
    missing: tuple[tuple[str, int], ...]
    headline: tuple[Headline, ...]


@dataclass(frozen=True)
class Results:
    """Every results file the report can draw on; None where the file is absent."""

    summary: Summary
    categories: pd.DataFrame | None
    regression: pd.DataFrame | None
    regression_formula: str | None
    repeat_curve: pd.DataFrame | None
    curves: pd.DataFrame | None
    top_tokens: pd.DataFrame | None
    top_segments: pd.DataFrame | None
    top_documents: pd.DataFrame | None


@dataclass(frozen=True)
class ModelInfo:
    """One scored model as the manifest records it; `role` is baseline, candidate or empty."""

    name: str
    role: str
    model: str
    revision: str | None
    dtype: str
    max_length: int | None
    stride: int | None
    n_tokens: int | None
    mean_loss: float | None


@dataclass(frozen=True)
class DomainCount:
    domain: str
    n_docs: int
    n_tokens: int  # positions with a loss (pos >= 1), i.e. every token but the prepended BOS


@dataclass(frozen=True)
class RunOverview:
    models: tuple[ModelInfo, ...]
    domains: tuple[DomainCount, ...]
    corpus_source: str | None
    skipped: tuple[tuple[str, int], ...]
    tokenizer_policy: str | None


def read_results_csv(path: Path) -> pd.DataFrame | None:
    """A results CSV with its contract columns typed, or None if the file does not exist."""
    if not path.is_file():
        return None
    text_cols, num_cols = _COLUMNS[path.name]
    try:
        frame = pd.read_csv(path, dtype={c: str for c in text_cols}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path}: not a readable CSV ({exc}); rerun the stage that wrote it") from exc
    missing = [c for c in text_cols + num_cols if c not in frame.columns]
    if missing:
        raise SchemaError(f"{path}: missing column(s) {', '.join(missing)}; rerun the stage that wrote it")
    for col in text_cols:
        frame[col] = frame[col].fillna("").astype(str)
    for col in num_cols:
        try:
            frame[col] = pd.to_numeric(frame[col])
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"{path}: column {col!r} is not numeric ({exc})") from exc
    return frame


def _number(raw: dict[str, Any], key: str, where: Path, *, nullable: bool = False, optional: bool = False) -> float | None:
    """raw[key] as a float. `nullable`: null (NaN written as JSON null) gives None; `optional`: so does absence."""
    if key not in raw:
        if optional:
            return None
        raise SchemaError(f"{where}: field {key!r} is missing; rerun `lossgap compare DIR`")
    value = raw[key]
    if value is None and (nullable or optional):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{where}: field {key!r} must be a number, got {value!r}")
    return float(value)


def _count(raw: dict[str, Any], key: str, where: Path) -> int:
    return int(_number(raw, key, where))  # type: ignore[arg-type]  # not nullable: never None


def _read_summary(path: Path) -> Summary:
    if not path.is_file():
        raise RunDirError(f"{path} does not exist: run `lossgap compare DIR` before `lossgap report DIR`")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise SchemaError(f"{path} must hold a JSON object; rerun `lossgap compare DIR`")
    for key in ("baseline", "candidate"):
        if not isinstance(raw.get(key), str):
            raise SchemaError(f"{path}: field {key!r} must name a scored model, got {raw.get(key)!r}")
    num = {k: _number(raw, k, path, nullable=True)
           for k in ("mean_loss_baseline", "mean_loss_candidate", "mean_gap", "ci_low", "ci_high")}
    headline = []
    for i, row in enumerate(raw.get("headline") or []):
        where = path.with_name(f"{path.name}:headline[{i}]")
        headline.append(Headline(
            label=str(row.get("label", "")),
            mean_gap=_number(row, "mean_gap", where, nullable=True),
            ci_low=_number(row, "ci_low", where, nullable=True),
            ci_high=_number(row, "ci_high", where, nullable=True),
            n_tokens=_count(row, "n_tokens", where),
        ))
    missing = raw.get("missing") or {}
    bootstrap = _number(raw, "bootstrap", path, optional=True)
    return Summary(
        baseline=raw["baseline"],
        candidate=raw["candidate"],
        n_tokens=_count(raw, "n_tokens", path),
        n_docs=_count(raw, "n_docs", path),
        mean_loss_baseline=num["mean_loss_baseline"],
        mean_loss_candidate=num["mean_loss_candidate"],
        mean_gap=num["mean_gap"],
        ci_low=num["ci_low"],
        ci_high=num["ci_high"],
        macro_mean_gap=_number(raw, "macro_mean_gap", path, optional=True),
        confidence=_number(raw, "confidence", path, optional=True) or 0.95,
        bootstrap=None if bootstrap is None else int(bootstrap),
        missing=tuple((str(k), int(v)) for k, v in missing.items() if isinstance(v, (int, float))),
        headline=tuple(headline),
    )


def read_results(run: RunDir) -> Results:
    """Read results/ of `run`; summary.json is required, every other file is optional."""
    if not run.results_dir.is_dir():
        raise RunDirError(f"{run.results_dir} does not exist: run `lossgap compare DIR` before `lossgap report DIR`")
    formula_path = run.results_path("regression_formula.txt")
    return Results(
        summary=_read_summary(run.results_path("summary.json")),
        categories=read_results_csv(run.results_path("categories.csv")),
        regression=read_results_csv(run.results_path("regression.csv")),
        regression_formula=formula_path.read_text().strip() if formula_path.is_file() else None,
        repeat_curve=read_results_csv(run.results_path("repeat_curve.csv")),
        curves=read_results_csv(run.results_path("curves.csv")),
        top_tokens=read_results_csv(run.results_path("top_tokens.csv")),
        top_segments=read_results_csv(run.results_path("top_segments.csv")),
        top_documents=read_results_csv(run.results_path("top_documents.csv")),
    )


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _optional_float(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _domain_counts(run: RunDir) -> tuple[DomainCount, ...]:
    """Documents and scored positions per domain, counted by DuckDB straight from the Parquet files."""
    if not run.has_corpus():
        return ()
    con = duckdb.connect()
    try:
        con.read_parquet(str(run.corpus_path)).create_view("corpus")
        if run.has_tokens():
            con.read_parquet(str(run.tokens_path)).create_view("tokens")
            query = """
                WITH per_doc AS (SELECT doc_id, count(*) AS n FROM tokens WHERE pos >= 1 GROUP BY doc_id)
                SELECT c.domain, count(*) AS n_docs, coalesce(sum(p.n), 0) AS n_tokens
                FROM corpus c LEFT JOIN per_doc p USING (doc_id)
                GROUP BY c.domain ORDER BY c.domain
            """
        else:
            query = "SELECT domain, count(*) AS n_docs, 0 AS n_tokens FROM corpus GROUP BY domain ORDER BY domain"
        rows = con.execute(query).fetchall()
    except duckdb.Error as exc:
        raise RunDirError(f"{run.path}: cannot count the corpus per domain ({exc})") from exc
    finally:
        con.close()
    return tuple(DomainCount(domain=str(d), n_docs=int(nd), n_tokens=int(nt)) for d, nd, nt in rows)


def read_overview(run: RunDir, summary: Summary) -> RunOverview:
    """The header's facts: scored models (baseline and candidate first), corpus per domain, skips, policy."""
    manifest = run.read_manifest()
    roles = {summary.baseline: "baseline", summary.candidate: "candidate"}
    models: list[ModelInfo] = []
    recorded: dict[str, Any] = manifest.get("models") or {}
    for name in sorted(set(recorded) | set(roles), key=lambda n: ({"baseline": 0, "candidate": 1}.get(roles.get(n, ""), 2), n)):
        entry = recorded.get(name) or {}
        context = entry.get("context") or {}
        models.append(ModelInfo(
            name=name,
            role=roles.get(name, ""),
            model=str(entry.get("model", "—")),
            revision=entry.get("revision"),
            dtype=str(entry.get("dtype", "—")),
            max_length=_optional_int(context.get("max_length")),
            stride=_optional_int(context.get("stride")),
            n_tokens=_optional_int(entry.get("n_tokens")),
            mean_loss=_optional_float(entry.get("mean_loss")),
        ))
    corpus = manifest.get("corpus") or {}
    tokenizer = manifest.get("tokenizer") or {}
    skipped = corpus.get("skipped") or {}
    policy = tokenizer.get("policy")
    return RunOverview(
        models=tuple(models),
        domains=_domain_counts(run),
        corpus_source=None if corpus.get("source") is None else str(corpus.get("source")),
        skipped=tuple((str(k), int(v)) for k, v in skipped.items() if isinstance(v, int)),
        tokenizer_policy=None if policy is None else (policy if isinstance(policy, str) else json.dumps(policy)),
    )
