"""Bin labels of the groupings, evaluated by DuckDB on hand-picked values at every edge."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from lossgap.analysis.categories import decile_expr, repeat_len_bin_expr, user_grouping
from lossgap.analysis.repeat_curve import repeat_groupings
from lossgap.errors import ConfigError


def _evaluate(expr: str, frame: pd.DataFrame) -> list[object]:
    con = duckdb.connect()
    con.register("joined", frame)
    return [r[0] for r in con.execute(f"SELECT CAST(({expr}) AS VARCHAR) FROM joined").fetchall()]


def test_repeat_len_bins_at_edges() -> None:
    frame = pd.DataFrame({"repeat_len": pd.array([0, 1, 2, 3, 4, 7, 8, 15, 16, 400, None], dtype="Int32")})
    assert _evaluate(repeat_len_bin_expr(), frame) == ["0", "1", "2", "3", "4-7", "4-7", "8-15", "8-15", "16+", "16+", None]


def test_repeat_curve_bins_at_edges() -> None:
    length, distance = repeat_groupings()
    frame = pd.DataFrame(
        {
            "repeat_len": pd.array([0, 1, 32, 33, 2, 2, 2, 2, 2, 2], dtype="Int32"),
            "repeat_dist": pd.array([None, 15, 16, 63, 64, 255, 256, 4095, 16383, 16384], dtype="Int32"),
        }
    )
    assert _evaluate(length.expr, frame) == [None, "1", "32", "33+", "2", "2", "2", "2", "2", "2"]
    assert _evaluate(distance.expr, frame) == [
        None, "1-15", "16-63", "16-63", "64-255", "64-255", "256-1023", "1024-4095", "4096-16383", "16384+"
    ]  # fmt: skip


def testdecile_expr_puts_ties_together() -> None:
    # thresholds of the hand run (log_freq 1,2,2,3,4,5): 1.5, 2, 2, 2, 2.5, 3, 3.5, 4, 4.5
    expr = decile_expr([1.5, 2.0, 2.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5])
    frame = pd.DataFrame({"log_freq": [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, None]})
    assert _evaluate(expr, frame) == ["1", "1", "2", "6", "8", "10", None]


def test_user_grouping_joins_values_and_rejects_unknown_columns() -> None:
    grouping = user_grouping("domain+upos", ["domain", "upos"])
    frame = pd.DataFrame({"domain": ["books", "news"], "upos": ["NOUN", None]})
    assert grouping.feature == "domain+upos"
    assert _evaluate(grouping.expr, frame) == ["books|NOUN", None]
    with pytest.raises(ConfigError, match="colour"):
        user_grouping("domain+colour", ["domain", "upos"])
