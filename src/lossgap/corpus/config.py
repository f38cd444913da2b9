"""The options of the corpus stage: which reader, which fields, and which documents to keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from lossgap.errors import ConfigError

__all__ = ["CorpusConfig", "CorpusFormat"]

CorpusFormat = Literal["auto", "jsonl", "parquet", "text", "hf", "example"]

# Rough characters per token, used only for `max_tokens_per_domain` (no tokenizer exists at this stage).
CHARS_PER_TOKEN = 4


@dataclass(frozen=True, kw_only=True)
class CorpusConfig:
    """How to read a corpus source and which documents to keep; validated on creation.

    Documents pass, in order: text checks (missing, not a string, empty) -> duplicate ids -> length filters
    -> truncation (`truncate_chars`, counted as repaired) -> `only_domains` -> domain set/map -> per-domain budgets -> `max_docs` (reading stops) -> `sample`.
    Every document read and not kept is counted under one reason.
    """

    format: CorpusFormat = "auto"  # auto: by suffix (.jsonl/.json[.gz], .parquet), folder -> text, "example"
    text_field: str = "text"
    id_field: str | None = None  # None: "id", else "doc_id", else generated from the location
    domain_field: str = "domain"
    default_domain: str = "unknown"  # domain of documents that have none (text folders: the sub-folder name)
    domain: str | None = None  # set every document's domain to this
    domain_map: tuple[tuple[str, str], ...] = ()  # (from, to) renames of source domains
    only_domains: tuple[str, ...] = ()  # keep only these domains (after reading, before set/map)
    min_chars: int | None = None
    max_chars: int | None = None
    truncate_chars: int | None = None  # keep each document's first passage of at most this many characters
    max_tokens_per_domain: int | None = None  # estimated as characters / 4, in source order
    max_docs_per_domain: int | None = None  # the first this many of each domain, in source order
    max_docs: int | None = None  # stop after this many kept documents
    sample: int | None = None  # then keep a uniform random sample of this many (in source order)
    seed: int = 0
    dedupe: bool = False  # drop documents whose id was seen before, instead of raising CorpusError
    hf_config: str | None = None
    hf_split: str = "train"
    streaming: bool = False

    def __post_init__(self) -> None:
        if self.format not in get_args(CorpusFormat):
            raise ConfigError(f"--format {self.format!r}: use one of {', '.join(get_args(CorpusFormat))}")
        for name in (
            "min_chars",
            "max_chars",
            "truncate_chars",
            "max_docs",
            "sample",
            "max_tokens_per_domain",
            "max_docs_per_domain",
        ):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "min_chars" else 1):
                raise ConfigError(f"--{name.replace('_', '-')} {value}: must be a positive number")
        if self.min_chars is not None and self.max_chars is not None and self.min_chars > self.max_chars:
            raise ConfigError(f"--min-chars {self.min_chars} is larger than --max-chars {self.max_chars}")
        if self.domain is not None and self.domain_map:
            raise ConfigError(
                "--domain sets every document's domain; it cannot be combined with --domain-from/--domain-to"
            )
        for name in ("text_field", "domain_field", "hf_split"):
            if not getattr(self, name):
                raise ConfigError(f"--{name.replace('_', '-')} must not be empty")
        if self.domain is not None and not self.domain.strip():
            raise ConfigError("--domain must not be empty")
        sources = [src for src, _ in self.domain_map]
        if len(set(sources)) != len(sources):
            raise ConfigError(f"--domain-from names a domain twice: {sources}")
