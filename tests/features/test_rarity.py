from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lossgap.errors import ConfigError
from lossgap.features.rarity import annotate_rarity, count_tokens, read_counts
from tests.features.make import chunk_of, make_doc, resources


def test_rarity_own_counts_log10() -> None:
    # ids: "a"=1 three times, "b"=2 once.
    doc = make_doc(["a", "b", "a", "a"])
    ids, counts = count_tokens(doc.token_ids[1:])
    assert ids.tolist() == [1, 2] and counts.tolist() == [3.0, 1.0]
    cols = annotate_rarity(chunk_of(doc), resources(count_ids=ids, counts=counts))
    got = cols["log_freq"].to_pylist()
    assert got[0] is None  # the BOS
    assert got[1:] == pytest.approx([math.log10(3), 0.0, math.log10(3), math.log10(3)])


def test_rarity_counts_file_csv_missing_and_zero_ids_get_half_a_count(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "counts.csv"
    path.write_text("token_id,count\n1,1000\n2,0\n1,24\n")
    ids, counts = read_counts(path)
    assert ids.tolist() == [1, 2] and counts.tolist() == [1024.0, 0.0]  # duplicates summed
    doc = make_doc(["a", "b", "c"])  # ids 1, 2, 3; 3 is absent from the file
    got = annotate_rarity(chunk_of(doc), resources(count_ids=ids, counts=counts))["log_freq"].to_pylist()
    assert got[1:] == pytest.approx([math.log10(1024), math.log10(0.5), math.log10(0.5)])


def test_rarity_counts_file_parquet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "counts.parquet"
    pq.write_table(pa.table({"token_id": [5, 3], "count": [10, 100]}), path)
    ids, counts = read_counts(path)
    assert ids.tolist() == [3, 5] and counts.tolist() == [100.0, 10.0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.csv", "id,n\n1,2\n", "missing column"),
        ("c.csv", "token_id,count\n1,-3\n", ">= 0"),
        ("c.csv", "token_id,count\nx,3\n", "integers"),
        ("c.txt", "1 2\n", ".parquet or .csv"),
    ],
)
def test_rarity_bad_counts_file(tmp_path, name, content, message) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_counts(path)
