"""Reading documents from JSONL, Parquet, text folders and Hugging Face datasets into the run's corpus table,
and the bundled example corpus. Every document read and not kept is counted by reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "Corpus": "table",
    "CorpusConfig": "config",
    "CorpusFormat": "config",
    "EXAMPLE_DOMAINS": "example",
    "RawDoc": "table",
    "build_corpus": "table",
    "corpus_fingerprint": "table",
    "corpus_record": "run",
    "example_corpus": "example",
    "example_manifest": "example",
    "first_passage": "table",
    "read_corpus": "read",
    "run_corpus": "run",
}
__all__ = [
    "Corpus",
    "CorpusConfig",
    "CorpusFormat",
    "EXAMPLE_DOMAINS",
    "RawDoc",
    "build_corpus",
    "corpus_fingerprint",
    "corpus_record",
    "example_corpus",
    "example_manifest",
    "first_passage",
    "read_corpus",
    "run_corpus",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.corpus.config import CorpusConfig, CorpusFormat
    from lossgap.corpus.example import EXAMPLE_DOMAINS, example_corpus, example_manifest
    from lossgap.corpus.read import read_corpus
    from lossgap.corpus.run import corpus_record, run_corpus
    from lossgap.corpus.table import Corpus, RawDoc, build_corpus, corpus_fingerprint, first_passage
