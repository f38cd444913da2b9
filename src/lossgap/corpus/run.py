"""The corpus stage: read a source into the run's corpus.parquet and record it in run.json."""

from __future__ import annotations

import logging
from pathlib import Path

from lossgap.corpus.config import CorpusConfig
from lossgap.corpus.read import read_corpus
from lossgap.corpus.table import Corpus, corpus_fingerprint
from lossgap.errors import CorpusError, RunDirError
from lossgap.rundir import CorpusRecord, RunDir, as_rundir, to_json

__all__ = ["corpus_record", "run_corpus", "store_corpus"]

log = logging.getLogger(__name__)


def corpus_record(corpus: Corpus, config: CorpusConfig, fingerprint: str) -> CorpusRecord:
    """The manifest's corpus record (options: those that differ from the defaults)."""
    if corpus.n_docs == 0:
        raise CorpusError(
            f"{corpus.source}: no documents left (read {corpus.n_read}, skipped {corpus.skipped}); "
            "check --text-field and the filters"
        )
    given, defaults = to_json(config), to_json(CorpusConfig())
    return CorpusRecord(
        fingerprint=fingerprint,
        source=corpus.source,
        n_docs=corpus.n_docs,
        n_read=corpus.n_read,
        skipped=dict(sorted(corpus.skipped.items())),
        repaired=dict(sorted(corpus.repaired.items())),
        domains=corpus.domains(),
        options={k: v for k, v in given.items() if v != defaults[k]},
    )


def run_corpus(run_dir: Path | str | RunDir, source: str | Path, config: CorpusConfig) -> Corpus:
    """Read `source`, write the run's corpus.parquet and its manifest record; return the Corpus.

    A run that already has tokens keeps its corpus: writing a different one would orphan the scores
    (an error that says to use a new run directory); writing the same one again is allowed.
    """
    return store_corpus(run_dir, read_corpus(source, config), config)


def store_corpus(run_dir: Path | str | RunDir, corpus: Corpus, config: CorpusConfig) -> Corpus:
    """Write `corpus` as the run's corpus.parquet with its manifest record (see `run_corpus`)."""
    run = as_rundir(run_dir)
    fingerprint = corpus_fingerprint(corpus.table)
    record = corpus_record(corpus, config, fingerprint)
    if run.has("tokens"):
        old = run.manifest().corpus
        if old is None or old.fingerprint != fingerprint:
            previous = "an unrecorded corpus" if old is None else f"fingerprint {old.fingerprint[:12]}…"
            raise RunDirError(
                f"{run.path} has already been scored on another corpus ({previous}, new {fingerprint[:12]}…); "
                "use a new run directory"
            )
    previous = run.manifest().corpus
    if not (run.has("corpus") and previous is not None and previous.fingerprint == fingerprint):
        run.write("corpus", corpus.table)  # the same corpus again is not rewritten (its file stays as it was)
    run.record_corpus(record)
    log.info("wrote %d documents from %s to %s", corpus.n_docs, corpus.source, run.describe("corpus"))
    return corpus
