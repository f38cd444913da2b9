"""The Parquet reader on tables written here."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lossgap.corpus import read_corpus
from lossgap.errors import CorpusError


def write(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def test_parquet_reads_rows_with_ids_and_domains(tmp_path: Path) -> None:
    f = write(
        tmp_path / "d.parquet",
        pa.table({"id": [10, 11, 12], "text": ["a b", None, ""], "domain": ["code", "x", None]}),
    )
    corpus = read_corpus(f)
    assert corpus.table.to_pylist() == [{"doc_id": "10", "domain": "code", "text": "a b", "source": "d.parquet:row1"}]
    assert corpus.skipped == {"missing_text": 1, "empty_text": 1}


def test_parquet_reads_a_lossgap_corpus_back(tmp_path: Path) -> None:
    rows = [{"doc_id": "d1", "domain": "books", "text": "Once.", "source": "s"}]
    f = write(tmp_path / "corpus.parquet", pa.Table.from_pylist(rows))
    assert read_corpus(f).table.select(["doc_id", "domain", "text"]).to_pylist() == [
        {"doc_id": "d1", "domain": "books", "text": "Once."}
    ]


def test_parquet_binary_text_is_decoded_with_replacement(tmp_path: Path) -> None:
    f = write(tmp_path / "b.parquet", pa.table({"text": pa.array([b"ok", b"bad \xff"], type=pa.binary())}))
    corpus = read_corpus(f)
    assert corpus.table.column("text").to_pylist() == ["ok", "bad \ufffd"]
    assert corpus.repaired == {"invalid_utf8": 1}


def test_parquet_missing_text_column_names_the_columns(tmp_path: Path) -> None:
    f = write(tmp_path / "c.parquet", pa.table({"content": ["x"]}))
    with pytest.raises(CorpusError, match=r"no text column 'text' \(columns: content\); pass --text-field"):
        read_corpus(f)
    assert read_corpus(f, text_field="content").n_docs == 1


def test_parquet_requested_id_column_must_exist(tmp_path: Path) -> None:
    f = write(tmp_path / "c.parquet", pa.table({"text": ["x"]}))
    with pytest.raises(CorpusError, match="no id field 'uid'"):
        read_corpus(f, id_field="uid")


def test_parquet_not_parquet_is_a_corpus_error(tmp_path: Path) -> None:
    f = tmp_path / "junk.parquet"
    f.write_bytes(b"not parquet at all")
    with pytest.raises(CorpusError, match="not a readable Parquet file"):
        read_corpus(f)


def test_parquet_float_ids_are_an_error_naming_the_row(tmp_path: Path) -> None:
    f = write(tmp_path / "f.parquet", pa.table({"id": [1.0, 2.5], "text": ["x", "y"]}))
    with pytest.raises(CorpusError, match=r"f\.parquet: row 1: id field 'id' is float"):
        read_corpus(f)
