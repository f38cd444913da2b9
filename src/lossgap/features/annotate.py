"""The annotate stage: reads the run's corpus, tokens and manifest; writes its features table.

`annotate_chunk` is the core (documents in, one table out); `run_annotate` is the shell around it.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lossgap.errors import ConfigError, RunDirError, SchemaError
from lossgap.features.config import AnnotateConfig
from lossgap.features.lexing import lex_text, lexer_for_domain
from lossgap.features.rarity import read_counts
from lossgap.features.records import Chunk, DocumentTokens, LexedText, Resources
from lossgap.features.registry import ANNOTATORS, Annotator
from lossgap.rundir import (
    FEATURES_SCHEMA,
    TOKENS_SCHEMA,
    ContextPolicy,
    FeaturesRecord,
    Manifest,
    RunDir,
    as_rundir,
    document_runs,
    to_json,
    widest,
)

__all__ = [
    "AnnotateResult",
    "repeat_context",
    "iter_documents",
    "whole_documents",
    "make_chunk",
    "annotate_chunk",
    "run_annotate",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnotateResult:
    """What `run_annotate` wrote, and the seconds each annotator took (plus "lexing" and "total")."""

    path: Path
    n_tokens: int
    n_docs: int
    repeat_context: ContextPolicy | None
    seconds: Mapping[str, float] = field(default_factory=dict)


def repeat_context(manifest: Manifest) -> ContextPolicy | None:
    """The context repeats are judged in: the widest any scored model saw (`rundir.widest`); with no model
    scored, or in a unit run (whose models' windows are counted in their own tokens), whole documents (None)."""
    if manifest.unit is not None:
        return None
    return widest(manifest.contexts().values())


class _CorpusTexts:
    """The corpus read piece by piece as documents are asked for: the tokens come in corpus order, so only a
    piece of it is held at a time (documents asked for out of order read ahead and wait in memory)."""

    def __init__(self, pieces: Iterator[pa.Table]) -> None:
        self._pieces = pieces
        self._waiting: dict[str, tuple[str, str]] = {}

    def pop(self, doc_id: str) -> tuple[str, str] | None:
        """(domain, text) of `doc_id`, or None if the corpus does not have it."""
        while doc_id not in self._waiting:
            piece = next(self._pieces, None)
            if piece is None:
                return None
            columns = [piece.column(c).to_pylist() for c in ("doc_id", "domain", "text")]
            self._waiting.update({d: (dom or "unknown", text or "") for d, dom, text in zip(*columns, strict=True)})
        return self._waiting.pop(doc_id)


def whole_documents(pieces: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """Token tables cut at document boundaries: a piece's last document waits for the rest of its rows."""
    carry: pa.Table | None = None
    for piece in pieces:
        table = piece if carry is None else pa.concat_tables([carry, piece])
        if table.num_rows == 0:
            continue
        doc_col = table.column("doc_id")
        same = pc.equal(doc_col, doc_col[table.num_rows - 1]).to_numpy(zero_copy_only=False)
        other = np.flatnonzero(~same)
        start = int(other[-1]) + 1 if other.size else 0
        if start:
            yield table.slice(0, start)
        carry = table.slice(start)
    if carry is not None and carry.num_rows:
        yield carry


def iter_documents(tokens: Iterator[pa.Table], texts: _CorpusTexts) -> Iterator[DocumentTokens]:
    """The documents of the token tables (whole documents each, `whole_documents`) in their row order, joined
    with their domain and text.

    Raises SchemaError if a document's rows are not contiguous, its positions are not 0, 1, 2, …, or an
    offset falls outside its text; RunDirError if a document is missing from the corpus."""
    seen: set[str] = set()
    for table in tokens:
        n = table.num_rows
        if n == 0:
            continue
        doc_col = table.column("doc_id").combine_chunks()
        run_ids, starts = document_runs(doc_col)
        if len(set(run_ids)) != len(run_ids) or seen.intersection(run_ids):
            dup = next((d for d, count in Counter(run_ids).items() if count > 1), None) or next(
                iter(seen.intersection(run_ids))
            )
            raise SchemaError(f"tokens: the rows of document {dup!r} are not contiguous")
        seen.update(run_ids)
        pos = table.column("pos").to_numpy().astype(np.int64)
        expected = np.arange(n) - np.repeat(starts[:-1], np.diff(starts))
        if (bad := np.flatnonzero(pos != expected)).size:
            i = int(bad[0])
            raise SchemaError(
                f"tokens: document {doc_col[i].as_py()!r} row {i}: pos {pos[i]} where {expected[i]} was "
                "expected (positions must run 0, 1, 2, … within each document)"
            )
        token_ids = table.column("token_id").to_numpy().astype(np.int64)
        char_start = table.column("char_start").to_numpy().astype(np.int64)
        char_end = table.column("char_end").to_numpy().astype(np.int64)
        for doc_id, a, b in zip(run_ids, starts[:-1].tolist(), starts[1:].tolist(), strict=True):
            found = texts.pop(doc_id)
            if found is None:
                raise RunDirError(f"tokens: document {doc_id!r} is not in the corpus; re-run scoring")
            domain, text = found
            cs, ce = char_start[a:b], char_end[a:b]
            special = (cs == -1) & (ce == -1)
            bad_span = ~special & ((cs < 0) | (ce < cs) | (ce > len(text)))
            if bad_span.any():
                p = int(np.flatnonzero(bad_span)[0])
                raise SchemaError(
                    f"tokens: document {doc_id!r} pos {p}: offsets [{cs[p]}, {ce[p]}) do not fit its text "
                    f"of {len(text)} characters; the tokens were made from another corpus — re-run scoring"
                )
            yield DocumentTokens(doc_id=doc_id, domain=domain, text=text, token_ids=token_ids[a:b], char_start=cs,
                                 char_end=ce)  # fmt: skip


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
        if annotator.applies is not None and not annotator.applies(resources):
            continue
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


def _annotate_group(group: list[DocumentTokens], resources: Resources) -> tuple[pa.Table, dict[str, float]]:
    """Lex and annotate one group of documents: its table, and the seconds each step took."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    chunk = make_chunk(group, resources.prose_domains)
    seconds["lexing"] = time.perf_counter() - t0
    return annotate_chunk(chunk, resources, seconds=seconds), seconds


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


_MIN_WORKER_CHUNK = 20_000  # tokens: smaller groups cost more in transfers than they gain
_WORKER: dict[str, object] = {}  # a worker process's resources, loaded once by `_init_worker`


def _init_worker(resources: Resources, spacy_model: str | None, needs_spacy: bool) -> None:
    """Load a worker's resources: the parent's, with its own spaCy pipeline (spawned processes share nothing)."""
    nlp = None
    if needs_spacy:
        from lossgap.features.words import load_spacy

        nlp = load_spacy(spacy_model)
    _WORKER["resources"] = dataclasses.replace(resources, nlp=nlp)


def _annotate_in_worker(group: list[DocumentTokens]) -> tuple[pa.Table, dict[str, float]]:
    resources = _WORKER["resources"]
    assert isinstance(resources, Resources)
    return _annotate_group(group, resources)


def _in_workers(groups: Iterator[list[DocumentTokens]], workers: int, resources: Resources, config: AnnotateConfig,
                needs_spacy: bool) -> Iterator[tuple[pa.Table, dict[str, float], int]]:  # fmt: skip
    """(table, seconds, documents) of each group, in order, annotated by `workers` spawned processes; at most
    two groups a worker are in flight, so memory holds a few chunks, not the run."""
    context = multiprocessing.get_context("spawn")  # fork would copy spaCy and numba state of any age
    resources = dataclasses.replace(resources, nlp=None)  # each worker loads its own pipeline
    with context.Pool(workers, initializer=_init_worker, initargs=(resources, config.spacy_model, needs_spacy)) as pool:
        pending: deque = deque()
        for group in groups:
            pending.append((pool.apply_async(_annotate_in_worker, (group,)), len(group)))
            if len(pending) >= 2 * workers:
                result, n = pending.popleft()
                yield (*result.get(), n)
        while pending:
            result, n = pending.popleft()
            yield (*result.get(), n)


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


_TOKEN_ROWS = 1 << 20  # tokens read at a time
_CORPUS_ROWS = 1 << 10  # documents read at a time


def _run_counts(run: RunDir) -> tuple[np.ndarray, np.ndarray]:
    """Sorted token ids of the run's tokens (special tokens left out) and their counts, counted by DuckDB."""
    import duckdb

    con = duckdb.connect()
    try:
        run.view(con, "tokens", "tokens")
        ids, counts = (
            con.execute(
                "SELECT token_id, count(*) FROM tokens WHERE char_start >= 0 GROUP BY token_id ORDER BY token_id"
            )
            .fetchnumpy()
            .values()
        )
    finally:
        con.close()
    return np.asarray(ids, np.int64), np.asarray(counts, np.float64)


def _domains(run: RunDir) -> set[str]:
    """The corpus's domains (a document without one is "unknown")."""
    return {
        d or "unknown"
        for piece in run.iter_tables("corpus", ["domain"])
        for d in pc.unique(piece.column("domain")).to_pylist()
    }


def _probe_marks(run: RunDir) -> dict[str, list[tuple[str, int, int, int, int, int, bool, int, int]]]:
    """probes.parquet by document, in file order (the columns added later, within_start/end, -1 in older files)."""
    marks: dict[str, list[tuple[str, int, int, int, int, int, bool, int, int]]] = {}
    table = run.read("probes")
    columns = [table.column(c).to_pylist() if c in table.column_names else [-1] * table.num_rows
               for c in ("probe", "level", "char_start", "char_end", "src_start", "src_end", "skip_first",
                         "within_start", "within_end")]  # fmt: skip
    for doc_id, *row in zip(table.column("doc_id").to_pylist(), *columns, strict=True):
        marks.setdefault(doc_id, []).append(tuple(row))  # type: ignore[arg-type]
    return marks


def _document_lengths(run: RunDir) -> np.ndarray:
    """Tokens of each document, in the token table's order (read piece by piece)."""
    lengths: list[int] = []
    previous = None
    for piece in run.iter_tables("tokens", ["doc_id"], rows=_TOKEN_ROWS):
        ids, starts = document_runs(piece.column("doc_id"))
        if not ids:
            continue
        runs = np.diff(starts).tolist()
        if ids[0] == previous:  # a document cut between two pieces
            lengths[-1] += runs.pop(0)
        lengths += runs
        previous = ids[-1]
    return np.asarray(lengths, np.int64)


def shard_range(lengths: np.ndarray, shard: int, of: int) -> range:
    """The documents of shard `shard` of `of`: consecutive documents, about as many tokens in each shard (a
    document goes to the shard its first token falls in), so the shards in order are the run in order."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
    total = int(lengths.sum())
    owner = np.minimum(starts * of // max(total, 1), of - 1)
    chosen = np.flatnonzero(owner == shard)
    return range(int(chosen[0]), int(chosen[-1]) + 1) if chosen.size else range(0)


def _only(docs: Iterator[DocumentTokens], keep: range) -> Iterator[DocumentTokens]:
    for k, doc in enumerate(docs):
        if k in keep:
            yield doc
        elif k >= keep.stop:
            return


def run_annotate(
    run_dir: Path | str | RunDir, config: AnnotateConfig, *, shard: tuple[int, int] | None = None
) -> AnnotateResult:
    """Annotate every token of the run and write its features (atomically); record them in the manifest.

    `shard` = (i, n): annotate only the i-th of n consecutive parts of the documents (about equal in tokens)
    into features.shards/; the shard that completes the set merges them into features.parquet, the same file
    one process writes. Shards can run on different machines sharing the run directory."""
    run = as_rundir(run_dir)
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise ConfigError(f"--shard {shard[0]}/{shard[1]}: write I/N with 0 <= I < N")
    started = time.perf_counter()
    used_domains = _domains(run)  # the corpus first: without it there are no tokens either
    run.check_writable()
    n_rows = run.n_rows("tokens")
    manifest = run.manifest()
    context = repeat_context(manifest)
    unit = "token" if manifest.unit is None else manifest.unit.unit

    if config.counts is not None:
        count_ids, counts = read_counts(config.counts)
    else:
        count_ids, counts = _run_counts(run)
    nlp = None
    if used_domains & config.prose_domains:
        from lossgap.features.words import load_spacy

        nlp = load_spacy(config.spacy_model)
    resources = Resources(
        nlp=nlp,
        prose_domains=config.prose_domains,
        count_ids=count_ids,
        counts=counts,
        repeat_context=context,
        spacy_batch_size=config.spacy_batch_size,
        leave_document_out=config.counts is None,
        probe_marks=_probe_marks(run) if run.has("probes") else None,
    )
    seconds: dict[str, float] = {}
    n_docs = 0
    # Documents are annotated in groups of about chunk_tokens tokens, each group independently of the others
    # (rarity counts and the repeat context are the run's, prepared above), so groups can go to worker
    # processes and come back in order: the file is the same whatever the number of workers.
    requested = config.workers or os.cpu_count() or 1
    chunk_tokens = config.chunk_tokens
    if requested > 1:  # about four groups a worker, so that the processes stay busy to the end
        chunk_tokens = min(chunk_tokens, max(_MIN_WORKER_CHUNK, -(-n_rows // (4 * requested))))
    workers = min(requested, max(1, -(-n_rows // chunk_tokens)))
    # tokens and corpus are read piece by piece: memory holds a few groups, not the run
    texts = _CorpusTexts(run.iter_tables("corpus", ["doc_id", "domain", "text"], rows=_CORPUS_ROWS))
    tokens = whole_documents(run.iter_tables("tokens", list(TOKENS_SCHEMA.names), rows=_TOKEN_ROWS))
    documents = iter_documents(tokens, texts)
    if shard is not None:
        keep = shard_range(_document_lengths(run), *shard)
        documents = _only(documents, keep)
        log.info("annotating shard %d of %d: documents %d to %d", shard[0], shard[1], keep.start, keep.stop - 1)
    groups = _chunks(documents, chunk_tokens)
    if workers > 1:
        log.info("annotating with %d worker processes", workers)
        done = _in_workers(groups, workers, resources, config, nlp is not None)
    else:
        done = ((*_annotate_group(group, resources), len(group)) for group in groups)
    # Written chunk by chunk, so memory holds a few chunks' features; readers see the file only when complete.
    with run.features_writer(shard) as writer:
        for table, group_seconds, n in done:
            writer.write(table)
            for name, value in group_seconds.items():
                seconds[name] = seconds.get(name, 0.0) + value
            n_docs += n
            log.info("annotated %d documents, %d tokens", n_docs, writer.n_rows)
        if writer.n_rows == 0:  # no tokens: an empty table with every column
            writer.write(annotate_chunk(make_chunk([], config.prose_domains), resources))
    seconds["total"] = time.perf_counter() - started
    n_tokens, columns = writer.n_rows, writer.columns
    if shard is not None:
        merged = run.merge_feature_shards(shard[1])
        if merged is None:  # other shards are still to come: the last one records the features
            return AnnotateResult(path=run.feature_shard_path(*shard), n_tokens=n_tokens, n_docs=n_docs,
                                  repeat_context=context, seconds=seconds)  # fmt: skip
        (n_tokens, columns), n_docs = merged, run.n_rows("corpus")
    run.record_features(FeaturesRecord(
        config=to_json(config),
        spacy_model=None if nlp is None else f"{nlp.meta.get('lang')}_{nlp.meta.get('name')}-{nlp.meta.get('version')}",
        repeat_context=context,
        log_freq_source=(f"counts file {config.counts}" if config.counts is not None
                         else f"the run's own {unit}s, each document's own occurrences left out"),
        versions=_versions(),
        columns=columns,
        n_tokens=n_tokens,
        n_docs=n_docs,
        time=datetime.now(UTC).isoformat(timespec="seconds"),
    ))  # fmt: skip
    return AnnotateResult(
        path=run.describe("features"), n_tokens=n_tokens, n_docs=n_docs, repeat_context=context, seconds=seconds
    )
