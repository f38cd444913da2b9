"""build_corpus: filters, domains, budgets and deterministic sampling on hand-made records."""

from __future__ import annotations

import numpy as np
import pytest

from lossgap.corpus import CorpusConfig, RawDoc, build_corpus, corpus_fingerprint
from lossgap.errors import ConfigError


def docs(*specs: tuple[str, str, str]) -> list[RawDoc]:
    return [
        RawDoc(text=text, location=f"src:{i}", doc_id=doc_id, domain=domain)
        for i, (doc_id, domain, text) in enumerate(specs)
    ]


RECORDS = docs(
    ("a", "wiki", "x" * 10),
    ("b", "wiki", "x" * 50),
    ("c", "news", "x" * 100),
    ("d", "code", "x" * 20),
    ("e", "news", "x" * 30),
)


def ids(config: CorpusConfig) -> list[str]:
    return build_corpus(RECORDS, config, source="t").table.column("doc_id").to_pylist()


def test_length_filters_count_each_reason() -> None:
    corpus = build_corpus(RECORDS, CorpusConfig(min_chars=20, max_chars=50), source="t")
    assert corpus.table.column("doc_id").to_pylist() == ["b", "d", "e"]
    assert corpus.skipped == {"too_short": 1, "too_long": 1}
    assert corpus.n_read == 5


def test_domain_set_map_and_selection() -> None:
    mapped = build_corpus(RECORDS, CorpusConfig(domain_map=(("wiki", "encyclopedia"),)), source="t")
    assert mapped.domains() == {"code": 1, "encyclopedia": 2, "news": 2}
    assert build_corpus(RECORDS, CorpusConfig(domain="all"), source="t").domains() == {"all": 5}
    only = build_corpus(RECORDS, CorpusConfig(only_domains=("news", "code")), source="t")
    assert only.table.column("doc_id").to_pylist() == ["c", "d", "e"]
    assert only.skipped == {"domain_not_selected": 2}


def test_max_docs_stops_reading() -> None:
    consumed: list[str] = []

    def stream():  # type: ignore[no-untyped-def]
        for rec in RECORDS:
            consumed.append(rec.doc_id or "")
            yield rec

    corpus = build_corpus(stream(), CorpusConfig(max_docs=2), source="t")
    assert corpus.table.column("doc_id").to_pylist() == ["a", "b"]
    assert consumed == ["a", "b"]  # the rest was never read, so nothing is counted as skipped
    assert corpus.skipped == {}


def test_per_domain_budgets() -> None:
    # tokens estimated as chars // 4: wiki a=2, b=12; news c=25, e=7; code d=5
    assert ids(CorpusConfig(max_tokens_per_domain=10)) == ["a", "c", "d"]  # c alone exceeds 10 but is first
    assert ids(CorpusConfig(max_tokens_per_domain=14)) == ["a", "b", "c", "d"]
    assert ids(CorpusConfig(max_docs_per_domain=1)) == ["a", "c", "d"]
    corpus = build_corpus(RECORDS, CorpusConfig(max_docs_per_domain=1), source="t")
    assert corpus.skipped == {"over_domain_budget": 2}


def test_sample_is_deterministic_and_matches_numpy_reference() -> None:
    config = CorpusConfig(sample=3, seed=42)
    expected = np.sort(np.random.default_rng(42).choice(5, size=3, replace=False))
    assert ids(config) == [["a", "b", "c", "d", "e"][i] for i in expected]
    assert ids(config) == ids(config)
    corpus = build_corpus(RECORDS, config, source="t")
    assert corpus.skipped == {"not_sampled": 2}
    assert ids(CorpusConfig(sample=10)) == ["a", "b", "c", "d", "e"]


def test_fingerprint_changes_with_any_field_and_order() -> None:
    base = build_corpus(RECORDS, CorpusConfig(), source="t").table
    fp = corpus_fingerprint(base)
    assert fp == corpus_fingerprint(build_corpus(RECORDS, CorpusConfig(), source="other").table)
    assert fp != corpus_fingerprint(build_corpus(RECORDS[::-1], CorpusConfig(), source="t").table)
    assert fp != corpus_fingerprint(build_corpus(RECORDS, CorpusConfig(domain="z"), source="t").table)


def test_config_validation_names_the_option() -> None:
    with pytest.raises(ConfigError, match="--max-docs 0"):
        CorpusConfig(max_docs=0)
    with pytest.raises(ConfigError, match="--min-chars 5 is larger than --max-chars 2"):
        CorpusConfig(min_chars=5, max_chars=2)
    with pytest.raises(ConfigError, match="cannot be combined"):
        CorpusConfig(domain="a", domain_map=(("b", "c"),))
    with pytest.raises(ConfigError, match="--format 'xml'"):
        CorpusConfig(format="xml")  # type: ignore[arg-type]


def test_domain_map_may_not_map_a_domain_twice() -> None:
    with pytest.raises(ConfigError, match="--domain-from names a domain twice"):
        CorpusConfig(domain_map=(("a", "b"), ("a", "c")))
