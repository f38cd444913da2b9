"""The bundled example corpus: real public text in six domains, with each source's licence in MANIFEST.json."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from lossgap.corpus.config import CorpusConfig
from lossgap.corpus.table import Corpus

__all__ = ["EXAMPLE_DOMAINS", "example_corpus", "example_manifest", "example_path"]

# Prose domains first, then code and markup. News is absent: no redistributable offline source (README).
EXAMPLE_DOMAINS = ("books", "encyclopedia", "science", "python", "html", "latex")


def _example_dir() -> Path:
    return Path(str(resources.files("lossgap") / "data" / "example"))


def example_path() -> Path:
    """The Parquet file of the bundled corpus (doc_id, domain, text, source)."""
    return _example_dir() / "corpus.parquet"


def example_manifest() -> dict[str, object]:
    """MANIFEST.json of the bundled corpus: its sources, their packages, versions and licences."""
    return json.loads((_example_dir() / "MANIFEST.json").read_text(encoding="utf-8"))


def example_corpus(
    domains: tuple[str, ...] | list[str] | None = None,
    max_tokens_per_domain: int | None = None,
    *,
    max_docs_per_domain: int | None = None,
) -> Corpus:
    """Load the bundled example corpus, optionally a subset.

    `domains` keeps only those domains (an unknown name is a ConfigError); `max_tokens_per_domain` keeps,
    per domain, the first documents whose estimated size (characters / 4) fits the budget (at least one);
    `max_docs_per_domain` keeps at most that many per domain. Documents are stored in a seeded random order
    within each domain, so any prefix is a fair sample and the same arguments always give the same corpus.

    >>> corpus = example_corpus(["books", "python"], max_tokens_per_domain=2000)
    >>> sorted(corpus.domains())
    ['books', 'python']
    """
    from lossgap.corpus.read import read_corpus
    from lossgap.errors import ConfigError

    if domains is not None:
        unknown = sorted(set(domains) - set(EXAMPLE_DOMAINS))
        if unknown:
            raise ConfigError(f"example corpus has no domain(s) {unknown}; it has {', '.join(EXAMPLE_DOMAINS)}")
    config = CorpusConfig(
        format="example",
        only_domains=tuple(domains) if domains is not None else (),
        max_tokens_per_domain=max_tokens_per_domain,
        max_docs_per_domain=max_docs_per_domain,
    )
    return read_corpus("example", config)
