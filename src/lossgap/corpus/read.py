"""Choosing the reader for a corpus source and building the Corpus from its records."""

from __future__ import annotations

from pathlib import Path

from lossgap.corpus.config import CorpusConfig, CorpusFormat
from lossgap.corpus.table import Corpus, build_corpus
from lossgap.errors import CorpusError

__all__ = ["read_corpus", "resolve_format"]

EXAMPLE_SOURCE = "example"


def resolve_format(source: str | Path, config: CorpusConfig) -> CorpusFormat:
    """The reader for `source`: the configured format, else by the file's suffix or folder-ness."""
    if config.format != "auto":
        return config.format
    path = Path(source)
    if str(source) == EXAMPLE_SOURCE and not path.exists():
        return "example"
    if path.is_dir():
        return "text"
    if not path.exists():
        raise CorpusError(
            f"{source}: no such file or folder (for a Hugging Face dataset pass --format hf; "
            f"for the bundled example pass 'example')"
        )
    name = path.name.lower()
    if name.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".txt", ".md", ".tex", ".py", ".html")):
        return "text"
    raise CorpusError(f"{source}: cannot tell the format from the name; pass --format jsonl|parquet|text|hf")


def read_corpus(source: str | Path, config: CorpusConfig | None = None, **options: object) -> Corpus:
    """Read documents from `source` into a Corpus, by `config` (or CorpusConfig(**options)).

    >>> corpus = read_corpus("example", only_domains=("books",), max_docs=3)
    >>> corpus.n_docs, corpus.domains()
    (3, {'books': 3})
    """
    if config is None:
        config = CorpusConfig(**options)  # type: ignore[arg-type]
    elif options:
        raise TypeError("pass either config or keyword options, not both")
    fmt = resolve_format(source, config)
    if fmt == "hf":
        from lossgap.corpus.hf import iter_hf

        return build_corpus(iter_hf(str(source), config), config, source=str(source))
    if fmt == "example":
        from lossgap.corpus.example import example_path

        path = example_path()
        from lossgap.corpus.parquet import iter_parquet

        return build_corpus(iter_parquet(path, config), config, source=EXAMPLE_SOURCE)
    path = Path(source)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    if fmt == "jsonl":
        from lossgap.corpus.jsonl import iter_jsonl

        records = iter_jsonl(path, config)
    elif fmt == "parquet":
        from lossgap.corpus.parquet import iter_parquet

        records = iter_parquet(path, config)
    else:
        from lossgap.corpus.textdir import iter_text

        records = iter_text(path, config)
    return build_corpus(records, config, source=str(path))
