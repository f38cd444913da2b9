"""The corpus table (doc_id, domain, text, source) built from raw records, every dropped document counted."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from lossgap.corpus.config import CHARS_PER_TOKEN, CorpusConfig
from lossgap.errors import CorpusError
from lossgap.rundir import CORPUS_SCHEMA

__all__ = ["Corpus", "RawDoc", "build_corpus", "corpus_fingerprint", "first_passage", "fix_unicode"]

log = logging.getLogger(__name__)

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Corpus:
    """Documents read from a source; `skipped` counts documents read and not kept, by reason.

    `repaired` counts kept-or-skipped documents whose text was changed on reading (invalid UTF-8 replaced
    by U+FFFD). Always `n_read == n_docs + sum(skipped.values())`.
    """

    table: pa.Table
    source: str
    skipped: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)

    @property
    def n_docs(self) -> int:
        return self.table.num_rows

    @property
    def n_read(self) -> int:
        return self.n_docs + sum(self.skipped.values())

    def domains(self) -> dict[str, int]:
        """Number of documents per domain, sorted by domain."""
        return dict(sorted(Counter(self.table.column("domain").to_pylist()).items()))


@dataclass(frozen=True)
class RawDoc:
    """One record as a reader found it, before any checks. `text` is whatever the source held there."""

    text: object
    location: str  # "file:line", "file", "dataset/split:index": goes to the `source` column and errors
    doc_id: str | None = None  # None: the location is the id
    domain: str | None = None
    invalid_utf8: bool = False  # the reader replaced undecodable bytes
    skip: str | None = None  # the reader already knows this record cannot be a document (e.g. binary_file)


def fix_unicode(text: str) -> tuple[str, bool]:
    """Replace lone surrogates (which cannot be written as UTF-8) by U+FFFD; say whether any were found."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text), True
    return text, False


def first_passage(text: str, max_chars: int) -> str:
    """The start of `text`, at most `max_chars` long, cut after the last line break in its second half (else
    after the last space there, else at `max_chars`), so that a passage ends with a whole line or word.

    >>> first_passage("one two\\nthree four\\nfive", 20)
    'one two\\nthree four\\n'
    >>> first_passage("one two three four", 12)
    'one two '
    >>> first_passage("abcdefgh", 5)
    'abcde'
    """
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    for sep in ("\n", " "):
        cut = head.rfind(sep)
        if cut >= max_chars // 2:
            return head[: cut + 1]
    return head


def corpus_fingerprint(table: pa.Table) -> str:
    """sha256 over (doc_id, domain, text) of every document, in order: two runs agree iff their corpora do."""
    h = hashlib.sha256()
    for doc_id, domain, text in zip(
        table.column("doc_id").to_pylist(),
        table.column("domain").to_pylist(),
        table.column("text").to_pylist(),
        strict=True,
    ):
        for part in (doc_id, domain or "", text):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
    return h.hexdigest()


def build_corpus(records: Iterable[RawDoc], config: CorpusConfig, *, source: str) -> Corpus:
    """Check, filter and sample raw records into a Corpus (see CorpusConfig for the order of the steps)."""
    rows: dict[str, list[str]] = {"doc_id": [], "domain": [], "text": [], "source": []}
    skipped: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    first_seen: dict[str, str] = {}
    domain_map = dict(config.domain_map)
    est_tokens: Counter[str] = Counter()
    per_domain: Counter[str] = Counter()
    for rec in records:
        if rec.skip is not None:
            skipped[rec.skip] += 1
            continue
        text = rec.text
        if isinstance(text, str):
            text, bad = fix_unicode(text)
            if bad or rec.invalid_utf8:
                repaired["invalid_utf8"] += 1
        elif rec.invalid_utf8:
            repaired["invalid_utf8"] += 1
        if text is None:
            skipped["missing_text"] += 1
            continue
        if not isinstance(text, str):
            skipped["text_not_string"] += 1
            continue
        if not text.strip():
            skipped["empty_text"] += 1
            continue
        doc_id = fix_unicode(rec.doc_id)[0] if rec.doc_id is not None else rec.location
        if doc_id in first_seen:
            if not config.dedupe:
                raise CorpusError(
                    f"{rec.location}: duplicate id {doc_id!r} (first at {first_seen[doc_id]}); "
                    "make ids unique, or pass --dedupe to keep only the first"
                )
            skipped["duplicate_id"] += 1
            continue
        first_seen[doc_id] = rec.location
        if config.min_chars is not None and len(text) < config.min_chars:
            skipped["too_short"] += 1
            continue
        if config.max_chars is not None and len(text) > config.max_chars:
            skipped["too_long"] += 1
            continue
        if config.truncate_chars is not None and len(text) > config.truncate_chars:
            text = first_passage(text, config.truncate_chars)
            repaired["truncated"] += 1
        domain = fix_unicode(rec.domain)[0] if rec.domain else config.default_domain
        if config.only_domains and domain not in config.only_domains:
            skipped["domain_not_selected"] += 1
            continue
        domain = config.domain if config.domain is not None else domain_map.get(domain, domain)
        if config.max_docs_per_domain is not None and per_domain[domain] >= config.max_docs_per_domain:
            skipped["over_domain_budget"] += 1
            continue
        if config.max_tokens_per_domain is not None:
            cost = max(1, len(text) // CHARS_PER_TOKEN)
            if est_tokens[domain] and est_tokens[domain] + cost > config.max_tokens_per_domain:
                skipped["over_domain_budget"] += 1
                continue
            est_tokens[domain] += cost
        per_domain[domain] += 1
        rows["doc_id"].append(doc_id)
        rows["domain"].append(domain)
        rows["text"].append(text)
        rows["source"].append(rec.location)
        if config.max_docs is not None and len(rows["doc_id"]) >= config.max_docs:
            log.info("kept --max-docs %d documents; stopped reading %s", config.max_docs, source)
            break
    table = pa.table(rows, schema=CORPUS_SCHEMA)
    if config.sample is not None and config.sample < table.num_rows:
        rng = np.random.default_rng(config.seed)
        keep = np.sort(rng.choice(table.num_rows, size=config.sample, replace=False))
        skipped["not_sampled"] += table.num_rows - config.sample
        table = table.take(pa.array(keep))
    return Corpus(table=table, source=source, skipped=dict(skipped), repaired=dict(repaired))
