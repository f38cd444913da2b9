"""Fixtures shared by every test package: a locally trained tokenizer and tiny random models (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lossgap.corpus import CorpusConfig, run_corpus
from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig, ScoreResult, run_score
from tests.tiny_models import ARCHITECTURES, save_tiny_model, train_tokenizer

TEXTS = [
    "The cat sat on the mat. The cat sat on the mat again, and then the dog came in.",
    "def add(a, b):\n    return (a + b)\n\nprint(add(1, 2))\n",
    "There is a house in New Orleans. There it stands, by the river; there were <b>bold</b> claims.",
    "Short.",
    "Numbers: 3.14159, 2.71828 and 1.41421 are famous constants. " * 6,
    '<div class="x">Hello</div>\n\\begin{itemize}\\item one\\end{itemize}',
]


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    return train_tokenizer(tmp_path_factory.mktemp("tokenizer"), TEXTS)


@pytest.fixture(scope="session", params=ARCHITECTURES)
def tiny_model(request, tmp_path_factory, tokenizer_dir) -> Path:
    """A folder with a tiny random-initialised model of each supported architecture and the local tokenizer."""
    return save_tiny_model(request.param, tmp_path_factory.mktemp(request.param), tokenizer_dir)


@pytest.fixture(scope="session")
def llama_model(tmp_path_factory, tokenizer_dir) -> Path:
    return save_tiny_model("llama", tmp_path_factory.mktemp("llama-only"), tokenizer_dir)


@pytest.fixture(scope="session")
def hybrid_model(tmp_path_factory, tokenizer_dir) -> Path:
    return save_tiny_model("olmo_hybrid", tmp_path_factory.mktemp("hybrid-only"), tokenizer_dir)


def score(run: RunDir | Path, config: ScoreConfig, corpus: Path) -> ScoreResult:
    """What `lossgap score MODEL --corpus FILE --run DIR` does: the corpus stage, then scoring."""
    run_corpus(run, corpus, CorpusConfig())
    return run_score(run, config)


@pytest.fixture()
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "corpus.jsonl"
    domains = ["books", "python", "encyclopedia", "books", "science", "html"]
    with open(path, "w") as fh:
        for i, (text, domain) in enumerate(zip(TEXTS, domains, strict=True)):
            fh.write(json.dumps({"id": f"doc{i}", "domain": domain, "text": text}) + "\n")
    return path
