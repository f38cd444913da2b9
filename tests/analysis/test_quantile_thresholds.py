"""quantile_thresholds computes its quantiles from distinct values and counts (memory bounded by distinct values,
not tokens): it must equal DuckDB's own quantile_cont over every token, ties and nulls included."""

import duckdb
import numpy as np

from lossgap.analysis.groupings import quantile_thresholds


def test_equals_duckdbs_quantile_cont_on_random_columns_with_ties_and_nulls():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(1, 60))
        x = rng.choice(rng.normal(size=int(rng.integers(1, 8))), size=n) if trial % 2 else rng.normal(size=n)
        con = duckdb.connect()
        con.execute("CREATE TABLE joined (log_freq DOUBLE)")
        con.executemany("INSERT INTO joined VALUES (?)", [[float(v)] for v in np.round(x, 2)] + [[None]])
        bins = int(rng.integers(2, 12))
        qs = ", ".join(f"{i / bins!r}" for i in range(1, bins))
        want = sorted(con.execute(f"SELECT quantile_cont(log_freq, [{qs}]) FROM joined").fetchall()[0][0])
        np.testing.assert_allclose(quantile_thresholds(con, "log_freq", bins), want, rtol=0, atol=1e-12)


def test_no_values_give_no_thresholds():
    con = duckdb.connect()
    con.execute("CREATE TABLE joined (log_freq DOUBLE)")
    assert quantile_thresholds(con, "log_freq", 10) == []
