"""The corpus stage: read a source into the run's corpus.parquet and record it in run.json."""

from __future__ import annotations

import logging
from pathlib import Path

from lossgap.corpus.config import CorpusConfig
from lossgap.corpus.read import read_corpus
from lossgap.corpus.table import Corpus, corpus_fingerprint
from lossgap.errors import CorpusError, RunDirError
from lossgap.rundir import RunDir

__all__ = ["corpus_manifest", "run_corpus"]

log = logging.getLogger(__name__)


def corpus_manifest(corpus: Corpus, config: CorpusConfig, fingerprint: str) -> dict[str, object]:
    """The manifest's `corpus` entry: n_read == n_docs + sum(skipped) always holds."""
    if corpus.n_docs == 0:
        raise CorpusError(
            f"{corpus.source}: no documents left (read {corpus.n_read}, skipped {corpus.skipped}); "
            "check --text-field and the filters"
        )
    return {
        "fingerprint": fingerprint,
        "source": corpus.source,
        "n_docs": corpus.n_docs,
        "n_read": corpus.n_read,
        "skipped": dict(sorted(corpus.skipped.items())),
        "repaired": dict(sorted(corpus.repaired.items())),
        "domains": corpus.domains(),
        "options": config.options(),
    }


def run_corpus(run_dir: Path | RunDir, source: str | Path, config: CorpusConfig) -> Corpus:
    """Read `source`, write the run's corpus.parquet and manifest entry; return the Corpus.

    A run that already has tokens keeps its corpus: writing a different one would orphan the scores
    (an error that says to use a new run directory); writing the same one again is allowed.
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    corpus = read_corpus(source, config)
    fingerprint = corpus_fingerprint(corpus.table)
    entry = corpus_manifest(corpus, config, fingerprint)
    if run.has_tokens():
        old = run.read_manifest().get("corpus", {}).get("fingerprint")
        if old != fingerprint:
            raise RunDirError(
                f"{run.path} has already been scored on another corpus (fingerprint {str(old)[:12]}…, "
                f"new {fingerprint[:12]}…); use a new run directory"
            )
    run.write_corpus(corpus.table)
    run.update_manifest(lambda manifest: manifest.__setitem__("corpus", entry))
    log.info("wrote %d documents from %s to %s", corpus.n_docs, corpus.source, run.corpus_path)
    return corpus
