"""The bundled example corpus: its domains, its licences, its boundaries, its subsets and its load time."""

from __future__ import annotations

import ast
import time
from importlib import resources
from pathlib import Path

import pytest

from lossgap.corpus import EXAMPLE_DOMAINS, example_corpus, example_manifest
from lossgap.corpus.config import CHARS_PER_TOKEN
from lossgap.errors import ConfigError

EXAMPLE_DIR = Path(str(resources.files("lossgap") / "data" / "example"))


def test_example_has_every_domain_it_claims() -> None:
    corpus = example_corpus()
    manifest = example_manifest()
    claimed = {d: c["n_docs"] for d, c in manifest["domains"].items()}
    assert set(claimed) == set(EXAMPLE_DOMAINS)
    assert corpus.domains() == dict(sorted(claimed.items()))
    assert all(n >= 5 for n in claimed.values())
    assert "news" not in claimed and "news" in manifest["not_included"]
    assert corpus.skipped == {} and corpus.repaired == {}
    per_domain_chars = {d: c["n_chars"] for d, c in manifest["domains"].items()}
    for domain, n_chars in per_domain_chars.items():  # "a few tens of thousands of tokens per domain"
        assert 20_000 <= n_chars // CHARS_PER_TOKEN <= 80_000, domain
    assert (EXAMPLE_DIR / "corpus.parquet").stat().st_size < 3_000_000


def test_example_every_file_has_a_licence_and_its_text() -> None:
    manifest = example_manifest()
    corpus = example_corpus()
    assert sum(f["n_docs"] for f in manifest["files"]) == corpus.n_docs
    texts = manifest["licence_texts"]
    for f in manifest["files"]:
        for key in ("package", "version", "path", "licence", "copyright", "licence_evidence"):
            assert f[key], (f["key"], key)
        if f["licence"] != "public-domain":
            family = {
                "GFDL-1.1-or-later": "GFDL-1.2",
                "GPL": "GPL-2",
                "GPL-2.0-only": "GPL-2",
                "GPL-2.0-or-later": "GPL-2",
                "GPL-3.0-or-later": "GPL-3",
            }.get(f["licence"], f["licence"])
            assert (EXAMPLE_DIR / texts[family]).is_file(), f["licence"]
    assert (EXAMPLE_DIR / "README.md").read_text().count("| ") > len(manifest["files"])


def test_example_documents_are_cut_at_natural_boundaries() -> None:
    rows = example_corpus().table.to_pylist()
    for row in rows:
        text, domain = row["text"], row["domain"]
        assert text == text.strip() or domain in {"python", "html", "latex"}
        if domain == "books":
            assert text.split("\n", 1)[0].upper().startswith("CHAPTER ")
        elif domain == "python":
            ast.parse(text)  # a whole module
        elif domain == "html":
            assert text.startswith('<div class="body" role="main">') and text.endswith("</div>\n")
        elif domain == "latex":
            assert text.startswith(("\\section", "\\subsection"))
        elif domain in {"books", "encyclopedia"}:  # a chapter ends a sentence; an entry ends with its date
            assert text[-1] in '.!?)]"', (row["doc_id"], text[-40:])
        else:  # science: a section's prose ends a sentence, or where a removed code chunk followed
            assert text[-1] in ".?):" or text.rsplit(None, 1)[-1].isalpha(), (row["doc_id"], text[-40:])


def test_example_subsets_are_deterministic_and_within_budget() -> None:
    small = example_corpus(["books", "python", "html"], max_tokens_per_domain=8000)
    again = example_corpus(["books", "python", "html"], max_tokens_per_domain=8000)
    assert small.table.equals(again.table)
    assert set(small.domains()) == {"books", "python", "html"}
    for domain in small.domains():
        texts = [r["text"] for r in small.table.to_pylist() if r["domain"] == domain]
        est = sum(max(1, len(t) // CHARS_PER_TOKEN) for t in texts)
        assert len(texts) == 1 or est <= 8000
    assert example_corpus(max_docs_per_domain=2).domains() == {d: 2 for d in sorted(EXAMPLE_DOMAINS)}


def test_example_unknown_domain_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"no domain\(s\) \['news'\]"):
        example_corpus(["books", "news"])


def test_example_loads_quickly() -> None:
    example_corpus()  # warm imports and the file cache
    start = time.perf_counter()
    example_corpus()
    seconds = time.perf_counter() - start
    assert seconds < 5.0  # generous for a shared CI machine; docs/corpus.md records the measured figure
