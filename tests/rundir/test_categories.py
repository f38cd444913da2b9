"""The shared category definitions: repeat-length bins in SQL, and "repeated" meaning repeat_len >= 2."""

import duckdb
import pytest

from lossgap.rundir import HEADLINE, PRESETS, repeat_len_bin_sql


@pytest.mark.parametrize(
    "length, label",
    [
        (None, None),
        (0, "0"),
        (1, "1"),
        (3, "3"),
        (4, "4-7"),
        (7, "4-7"),
        (8, "8-15"),
        (15, "8-15"),
        (16, "16+"),
        (400, "16+"),
    ],
)
def test_repeat_len_bins_in_sql(length, label):
    value = "NULL" if length is None else str(length)
    assert duckdb.sql(f"SELECT {repeat_len_bin_sql('r')} FROM (SELECT {value}::INTEGER AS r)").fetchall() == [(label,)]


def test_one_definition_of_repeated():
    assert PRESETS["repeated"] == "repeat_len >= 2" and PRESETS["nonrepeated"] == "repeat_len < 2"
    assert set(HEADLINE) <= set(PRESETS)
