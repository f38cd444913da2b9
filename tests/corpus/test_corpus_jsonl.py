"""The JSONL reader: exact documents, skips and errors on small files written here."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lossgap.corpus import CorpusConfig, read_corpus
from lossgap.errors import CorpusError


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_jsonl_reads_fields_and_counts_skips(tmp_path: Path) -> None:
    f = write(
        tmp_path / "docs.jsonl",
        b'{"id": "a", "text": "Alpha beta.", "domain": "news"}\n'
        b"\n"
        b'{"text": "   "}\n'
        b'{"id": 7, "text": "Seven."}\n'
        b'{"id": "m", "title": "no text"}\n'
        b'{"id": "n", "text": null}\n'
        b'{"id": "x", "text": 3}\n',
    )
    corpus = read_corpus(f)
    assert corpus.table.to_pylist() == [
        {"doc_id": "a", "domain": "news", "text": "Alpha beta.", "source": "docs.jsonl:1"},
        {"doc_id": "7", "domain": "unknown", "text": "Seven.", "source": "docs.jsonl:4"},
    ]
    assert corpus.skipped == {"empty_text": 1, "missing_text": 2, "text_not_string": 1}
    assert corpus.n_read == 6  # the blank line is not a document


def test_jsonl_generated_ids_are_the_location(tmp_path: Path) -> None:
    f = write(tmp_path / "d.jsonl", b'{"text": "one"}\n{"text": "two"}\n')
    assert read_corpus(f).table.column("doc_id").to_pylist() == ["d.jsonl:1", "d.jsonl:2"]


def test_jsonl_custom_field_names(tmp_path: Path) -> None:
    f = write(tmp_path / "d.jsonl", b'{"key": "k1", "body": "Hello.", "kind": "wiki", "text": "ignored"}\n')
    corpus = read_corpus(f, text_field="body", id_field="key", domain_field="kind")
    assert corpus.table.to_pylist() == [{"doc_id": "k1", "domain": "wiki", "text": "Hello.", "source": "d.jsonl:1"}]


def test_jsonl_missing_requested_id_field_falls_back_to_location(tmp_path: Path) -> None:
    f = write(tmp_path / "d.jsonl", b'{"text": "Hello."}\n')
    assert read_corpus(f, id_field="key").table.column("doc_id").to_pylist() == ["d.jsonl:1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"text": "ok"}\n{"text": "unterminated\n',
            r"bad\.jsonl:2: not valid JSON \(Invalid control character at column 23\)",
        ),
        (b'{"text": "tab\there"}\n', r"bad\.jsonl:1: not valid JSON \(Invalid control character at column 14\)"),
        (b'["text", "x"]\n', r"bad\.jsonl:1: expected a JSON object.*got list"),
        (b'{"id": true, "text": "x"}\n', r"bad\.jsonl:1: id field 'id' is bool"),
        (b'{"id": 1.5, "text": "x"}\n', r"bad\.jsonl:1: id field 'id' is float"),
        (b'{"id": [1], "text": "x"}\n', r"bad\.jsonl:1: id field 'id' is list"),
        (b'{"id": "", "text": "x"}\n', r"bad\.jsonl:1: id field 'id' is empty"),
        (b'{"text": "x", "domain": 5}\n', r"bad\.jsonl:1: domain field 'domain' is int"),
    ],
)
def test_jsonl_bad_lines_are_errors_naming_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    f = write(tmp_path / "bad.jsonl", content)
    with pytest.raises(CorpusError, match=message):
        read_corpus(f)


def test_jsonl_invalid_utf8_is_replaced_and_counted(tmp_path: Path) -> None:
    f = write(tmp_path / "u.jsonl", b'{"text": "caf\xe9 ok"}\n{"text": "fine"}\n{"text": "lone \\ud800 surrogate"}\n')
    corpus = read_corpus(f)
    assert corpus.table.column("text").to_pylist() == ["caf\ufffd ok", "fine", "lone \ufffd surrogate"]
    assert corpus.repaired == {"invalid_utf8": 2}
    assert corpus.skipped == {}


def test_jsonl_duplicate_ids_error_names_both_lines(tmp_path: Path) -> None:
    f = write(tmp_path / "dup.jsonl", b'{"id": "a", "text": "1"}\n{"id": "b", "text": "2"}\n{"id": "a", "text": "3"}\n')
    with pytest.raises(CorpusError, match=r"dup\.jsonl:3: duplicate id 'a' \(first at dup\.jsonl:1\).*--dedupe"):
        read_corpus(f)


def test_jsonl_dedupe_keeps_the_first(tmp_path: Path) -> None:
    f = write(tmp_path / "dup.jsonl", b'{"id": "a", "text": "1"}\n{"id": "b", "text": "2"}\n{"id": "a", "text": "3"}\n')
    corpus = read_corpus(f, dedupe=True)
    assert corpus.table.column("text").to_pylist() == ["1", "2"]
    assert corpus.skipped == {"duplicate_id": 1}


def test_jsonl_gzip(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl.gz"
    f.write_bytes(gzip.compress(b'{"text": "zipped"}\n'))
    assert read_corpus(f).table.column("text").to_pylist() == ["zipped"]


def test_jsonl_truncated_gzip_is_a_corpus_error(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl.gz"
    f.write_bytes(gzip.compress(b'{"text": "zipped"}\n' * 100)[:30])
    with pytest.raises(CorpusError, match="cannot read"):
        read_corpus(f)


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no such file"):
        read_corpus(tmp_path / "nope.jsonl")
    with pytest.raises(CorpusError, match="cannot tell the format"):
        read_corpus(write(tmp_path / "d.csv", b"a,b\n"))
    assert read_corpus(write(tmp_path / "d.csv", b'{"text": "x"}\n'), CorpusConfig(format="jsonl")).n_docs == 1
