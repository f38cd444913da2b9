"""Reading documents from JSONL, Parquet, text folders and Hugging Face datasets into the run's corpus table,
and the bundled example corpus. Every document read and not kept is counted by reason."""

from lossgap.corpus.config import CorpusConfig, CorpusFormat, parse_domain_map
from lossgap.corpus.example import EXAMPLE_DOMAINS, example_corpus, example_manifest
from lossgap.corpus.read import read_corpus
from lossgap.corpus.run import corpus_manifest, run_corpus
from lossgap.corpus.table import Corpus, RawDoc, build_corpus, corpus_fingerprint
from lossgap.errors import CorpusError

__all__ = [
    "EXAMPLE_DOMAINS",
    "Corpus",
    "CorpusConfig",
    "CorpusError",
    "CorpusFormat",
    "RawDoc",
    "build_corpus",
    "corpus_fingerprint",
    "corpus_manifest",
    "example_corpus",
    "example_manifest",
    "parse_domain_map",
    "read_corpus",
    "run_corpus",
]
