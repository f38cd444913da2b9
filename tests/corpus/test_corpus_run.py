"""run_corpus and the `lossgap corpus` command: corpus.parquet, the manifest entry, the summary."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lossgap.cli import app
from lossgap.corpus import CorpusConfig, corpus_fingerprint, run_corpus
from lossgap.errors import CorpusError, RunDirError
from lossgap.rundir import RunDir, to_json

DOCS = (
    b'{"id": "a", "text": "Alpha.", "domain": "wiki"}\n'
    b'{"id": "b", "text": ""}\n'
    b'{"id": "c", "text": "Gamma \xff.", "domain": "news"}\n'
    b'{"id": "a", "text": "Again."}\n'
)


def write_docs(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_bytes(DOCS)
    return path


def test_run_corpus_writes_table_and_manifest(tmp_path: Path) -> None:
    source = write_docs(tmp_path)
    config = CorpusConfig(dedupe=True, domain_map=(("wiki", "encyclopedia"),))
    corpus = run_corpus(tmp_path / "run", source, config)
    run = RunDir(tmp_path / "run")
    table = run.read("corpus")
    assert table.column("doc_id").to_pylist() == ["a", "c"]
    entry = to_json(run.manifest().corpus)
    assert entry == {
        "fingerprint": corpus_fingerprint(table),
        "source": str(source),
        "n_docs": 2,
        "n_read": 4,
        "skipped": {"duplicate_id": 1, "empty_text": 1},
        "repaired": {"invalid_utf8": 1},
        "domains": {"encyclopedia": 1, "news": 1},
        "options": {"dedupe": True, "domain_map": [["wiki", "encyclopedia"]]},
    }
    assert corpus.n_docs == 2


def test_run_corpus_with_no_documents_left_is_an_error(tmp_path: Path) -> None:
    source = write_docs(tmp_path)
    with pytest.raises(CorpusError, match="no documents left"):
        run_corpus(tmp_path / "run", source, CorpusConfig(dedupe=True, min_chars=1000))
    assert not RunDir(tmp_path / "run").has("corpus")


def test_run_corpus_keeps_the_corpus_of_a_scored_run(tmp_path: Path) -> None:
    source = write_docs(tmp_path)
    run = RunDir(tmp_path / "run")
    run_corpus(run, source, CorpusConfig(dedupe=True))
    tokens = pa.table({"doc_id": ["a"], "pos": [0], "token_id": [1], "char_start": [-1], "char_end": [-1]})
    run.write("tokens", tokens)
    run_corpus(run, source, CorpusConfig(dedupe=True))  # the same corpus again is fine
    with pytest.raises(RunDirError, match="already been scored on another corpus"):
        run_corpus(run, source, CorpusConfig(dedupe=True, domain="x"))


def test_cli_corpus_smoke(tmp_path: Path) -> None:
    source = write_docs(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "corpus",
            str(source),
            "--run",
            str(tmp_path / "run"),
            "--dedupe",
            "--domain-from",
            "wiki",
            "--domain-to",
            "encyclopedia",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 documents of 4 read" in result.output
    assert "skipped: duplicate_id 1, empty_text 1" in result.output
    assert "invalid_utf8 in 1 documents" in result.output
    manifest = to_json(RunDir(tmp_path / "run").manifest())
    assert manifest["corpus"]["domains"] == {"encyclopedia": 1, "news": 1}


def test_cli_corpus_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    source = write_docs(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["corpus", str(source), "--run", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "duplicate id 'a'" in result.output and "--dedupe" in result.output
    result = runner.invoke(app, ["corpus", str(source), "--run", str(tmp_path / "run"), "--domain-from", "wiki"])
    assert result.exit_code == 2 and "one --domain-to for each --domain-from" in result.output


def test_cli_corpus_example_subset(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "corpus",
            "example",
            "--run",
            str(tmp_path / "run"),
            "--only-domain",
            "books",
            "--only-domain",
            "latex",
            "--max-docs-per-domain",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    entry = to_json(RunDir(tmp_path / "run").manifest().corpus)
    assert entry["domains"] == {"books": 2, "latex": 2}
    assert entry["source"] == "example"
    assert entry["n_read"] == entry["n_docs"] + sum(entry["skipped"].values())
