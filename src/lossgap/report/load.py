"""What the report renders, read through the run directory: the results tables (typed by their contract),
the summary, the manifest's models and corpus, and the corpus's counts per domain.

An optional results file that is absent comes back as None, so that its section is left out of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import pandas as pd

from lossgap.errors import RunDirError
from lossgap.rundir import (
    PROBE_LEVELS,
    DiscoverSummary,
    ModelRecord,
    ProbesRecord,
    ResultRecord,
    RunDir,
    Summary,
    UnitRecord,
    file_kind,
)

__all__ = ["DomainCount", "ModelInfo", "Results", "RunOverview", "read_overview", "read_pages", "read_results"]


@dataclass(frozen=True)
class Results:
    """The files of one named result that the report can draw on; None where the file is absent (and the
    summary None for a result of curves or training logs)."""

    record: ResultRecord
    summary: Summary | None
    categories: pd.DataFrame | None
    contrasts: pd.DataFrame | None
    sensitivity: pd.DataFrame | None
    marginal_means: pd.DataFrame | None
    repeat_curve: pd.DataFrame | None
    curves: pd.DataFrame | None
    curves_diff: pd.DataFrame | None
    training: pd.DataFrame | None
    top_tokens: pd.DataFrame | None
    top_segments: pd.DataFrame | None
    top_documents: pd.DataFrame | None
    regression: str | None
    distribution: pd.DataFrame | None = None  # entropy, top-1 and divergence per category (scores that recorded them)
    probes: ProbesRecord | None = None  # a probe run's record: which probes are copies, what their levels count
    # a slice search (`discover`): how it ran, the slices selected and example tokens of each
    discover: DiscoverSummary | None = None
    slices: pd.DataFrame | None = None
    slice_examples: pd.DataFrame | None = None

    @property
    def pair(self) -> tuple[str, str] | None:
        """(baseline, candidate) of the models this page compares, or None (a page of curves)."""
        if self.summary is not None:
            return self.summary.baseline, self.summary.candidate
        if self.discover is not None:
            return self.discover.baseline, self.discover.candidate
        return None


@dataclass(frozen=True)
class ModelInfo:
    """One scored model as the manifest records it; `role` is baseline, candidate or empty."""

    name: str
    role: str
    model: str
    revision: str | None
    dtype: str
    context: str  # the policy in words ("full document", "windows of 64 tokens, stride 32"), or "—"
    max_length: int | None
    stride: int | None
    n_tokens: int | None
    mean_loss: float | None
    bits_per_byte: float | None = None  # in a unit run: the model's loss over the units kept, in bits per byte
    tokenizer: str = ""  # in a unit run: where the model's own tokens are


@dataclass(frozen=True)
class DomainCount:
    domain: str
    n_docs: int
    n_tokens: int  # positions with a loss (pos >= 1), i.e. every token but the prefix token


@dataclass(frozen=True)
class RunOverview:
    models: tuple[ModelInfo, ...]
    domains: tuple[DomainCount, ...]
    corpus_source: str | None
    skipped: tuple[tuple[str, int], ...]
    tokenizer_policy: str | None
    unit: UnitRecord | None = None  # a unit run: its unit ("word", "byte") and the rules that made it


def read_results(run: RunDir, record: ResultRecord | None = None) -> Results:
    """Read the files of one result of `run`; without `record`, the report's first page: the run's first
    comparison with its first checkpoint curves and training logs (`read_pages`)."""
    if record is None:
        return _first_page(run, _records(run))

    def table(filename: str) -> pd.DataFrame | None:
        return run.read_results(filename, record.name) if file_kind(filename) == record.kind else None

    compare = record.kind == "compare"
    return Results(
        record=record,
        summary=run.read_summary(record.name) if compare else None,
        categories=table("categories.csv"),
        contrasts=table("contrasts.csv"),
        sensitivity=table("sensitivity.csv"),
        marginal_means=table("marginal_means.csv"),
        repeat_curve=table("repeat_curve.csv"),
        curves=table("curves.csv"),
        curves_diff=table("curves_diff.csv"),
        training=table("training.csv"),
        top_tokens=table("top_tokens.csv"),
        top_segments=table("top_segments.csv"),
        top_documents=table("top_documents.csv"),
        regression=run.read_regression(record.name) if compare else None,
        distribution=table("distribution.csv"),
        probes=_probes_of(run),
        discover=run.read_discover_summary(record.name) if record.kind == "discover" else None,
        slices=table("slices.csv"),
        slice_examples=table("slice_examples.csv"),
    )


def _probes_of(run: RunDir) -> ProbesRecord | None:
    """The run's probe record; a probe run made before the record existed (marks in probes.parquet, no record) gets
    the one its probes had then."""
    record = run.manifest().probes
    if record is None and run.has("probes"):
        return ProbesRecord(probes=tuple(PROBE_LEVELS), levels={}, docs=0, seed=0)
    return record


def read_pages(run: RunDir) -> list[Results]:
    """The report's pages, each the files of the results it shows. The first page shows the run's first
    comparison (by name) together with its first checkpoint curves and its first training logs, which belong to
    the run rather than to a pair; every other result has a page of its own. RunDirError if the run has none."""
    records = _records(run)
    firsts = _firsts(records)
    return [_first_page(run, records), *(read_results(run, r) for r in records if r not in firsts)]


def _records(run: RunDir) -> list[ResultRecord]:
    records = run.results()
    if not records:
        raise RunDirError(f"{run.results_dir} holds no results: run `lossgap compare --run {run.path} --baseline NAME "
                          f"--candidate NAME` or `lossgap curves --run {run.path} --series NAME` before the report")  # fmt: skip
    return records


def _firsts(records: list[ResultRecord]) -> list[ResultRecord]:
    """The first result of each kind (records come by kind, then name): what the first page shows."""
    firsts = [next(r for r in records if r.kind == kind) for kind in ("compare", "curves", "training")
              if any(r.kind == kind for r in records)]  # fmt: skip
    return firsts or records[:1]  # a run of slice searches only: the first is the first page


def _first_page(run: RunDir, records: list[ResultRecord]) -> Results:
    first, *extras = _firsts(records)
    page = read_results(run, first)
    for extra in extras:
        more = read_results(run, extra)
        page = replace(page, **{k: getattr(more, k) for k in ("curves", "curves_diff", "training")
                                if getattr(more, k) is not None})  # fmt: skip
    return page


def _domain_counts(run: RunDir) -> tuple[DomainCount, ...]:
    """Documents and scored positions per domain, counted by DuckDB in the run's files."""
    if not run.has("corpus"):
        return ()
    con = duckdb.connect()
    try:
        run.view(con, "corpus", "corpus")
        if run.has("tokens"):
            run.view(con, "tokens", "tokens")
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


def read_overview(run: RunDir, summary: Summary | None, domains: tuple[DomainCount, ...] | None = None) -> RunOverview:
    """The header's facts: scored models (a comparison's baseline and candidate first), corpus per domain (counted
    here unless `domains` gives the counts already made for another page), skips, policy."""
    manifest = run.manifest()
    roles = {} if summary is None else {summary.baseline: "baseline", summary.candidate: "candidate"}
    order = {"baseline": 0, "candidate": 1}
    models = []
    for name in sorted(set(manifest.models) | set(roles), key=lambda n: (order.get(roles.get(n, ""), 2), n)):
        record = manifest.models.get(name)
        models.append(ModelInfo(
            name=name,
            role=roles.get(name, ""),
            model="—" if record is None else record.model,
            revision=None if record is None else record.revision,
            dtype="—" if record is None else record.dtype,
            context="—" if record is None else record.context.policy,
            max_length=None if record is None else record.context.max_length,
            stride=None if record is None else record.context.stride,
            n_tokens=None if record is None else record.n_tokens,
            mean_loss=None if record is None else record.mean_loss,
            bits_per_byte=None if record is None or record.unit_scoring() is None else record.unit_scoring().bits_per_byte,
            tokenizer="" if record is None or manifest.unit is None else _tokens_of(record),
        ))  # fmt: skip
    corpus = manifest.corpus
    return RunOverview(
        models=tuple(models),
        domains=_domain_counts(run) if domains is None else domains,
        corpus_source=None if corpus is None else corpus.source,
        skipped=() if corpus is None else tuple(corpus.skipped.items()),
        tokenizer_policy=None if manifest.tokenizer is None else manifest.tokenizer.policy,
        unit=manifest.unit,
    )


def _tokens_of(record: ModelRecord) -> str:
    """Where a unit run's model has its own tokens, in words."""
    made = record.unit_scoring()
    key = "" if made is None else made.source.tokenizer
    return "the run's tokens" if not key else f"tokenizer {key}"
