"""The category groupings of `compare`: the default feature groupings and user `--by` combinations.

Reads the joined table only to find the log-frequency decile thresholds; returns `Grouping`s.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np

from lossgap.analysis.groups import Grouping
from lossgap.analysis.join import JOINED_TABLE, quote_ident
from lossgap.errors import ConfigError

__all__ = ["REPEAT_LEN_BINS", "repeat_len_bin_expr", "decile_expr", "decile_thresholds", "default_groupings", "user_grouping"]

REPEAT_LEN_BINS = ("0", "1", "2", "3", "4-7", "8-15", "16+")
DECILES = tuple(str(d) for d in range(1, 11))


def repeat_len_bin_expr(column: str = "repeat_len") -> str:
    """SQL mapping repeat_len to its bin label (0, 1, 2, 3, 4-7, 8-15, 16+); NULL stays NULL."""
    c = quote_ident(column)
    return (
        f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} <= 3 THEN CAST({c} AS VARCHAR) "
        f"WHEN {c} <= 7 THEN '4-7' WHEN {c} <= 15 THEN '8-15' ELSE '16+' END"
    )


def decile_thresholds(con: duckdb.DuckDBPyConnection) -> list[float]:
    """The 10th..90th percentiles of log_freq over the joined tokens (empty if log_freq is all NULL)."""
    values = con.execute(f"SELECT log_freq FROM {JOINED_TABLE} WHERE log_freq IS NOT NULL").fetchnumpy()["log_freq"]
    if len(values) == 0:
        return []
    # linear interpolation between order statistics, as DuckDB's quantile_cont (numpy sorts 10M faster)
    return [float(x) for x in np.quantile(np.asarray(values, np.float64), np.arange(1, 10) / 10, method="linear")]


def decile_expr(thresholds: Sequence[float]) -> str:
    """Decile 1 (rarest) .. 10 of log_freq: 1 + the number of thresholds strictly below the value.

    Tokens with equal log_freq (the same token id) always share a decile, so deciles can be unequal in size.
    """
    steps = " + ".join(f"CAST(log_freq > {t!r} AS INTEGER)" for t in thresholds)
    return f"CASE WHEN log_freq IS NULL THEN NULL ELSE CAST(1 + {steps} AS VARCHAR) END"


def default_groupings(con: duckdb.DuckDBPyConnection) -> list[Grouping]:
    """The groupings of categories.csv that `compare` always computes."""
    groupings = [
        Grouping(feature="word_class", expr="word_class"),
        Grouping(feature="upos", expr="upos"),
        Grouping(feature="tag", expr="tag"),
        Grouping(
            feature="bracket_kind+bracket_side",
            expr="CASE WHEN bracket_side IN ('open', 'close') THEN bracket_kind || '|' || bracket_side END",
        ),
        Grouping(feature="repeat_len_bin", expr=repeat_len_bin_expr(), order=REPEAT_LEN_BINS),
    ]
    thresholds = decile_thresholds(con)
    if thresholds:
        groupings.append(Grouping(feature="log_freq_decile", expr=decile_expr(thresholds), order=DECILES))
    groupings += [
        Grouping(feature="domain", expr="domain"),
        Grouping(feature="domain+word_class", expr="domain || '|' || word_class"),
        Grouping(feature="domain+bracket_side", expr="domain || '|' || bracket_side"),
    ]
    return groupings


def user_grouping(spec: str, columns: Sequence[str]) -> Grouping:
    """A `--by` grouping: one feature column, or several joined with '+' (values joined with '|')."""
    parts = [p.strip() for p in spec.split("+")]
    unknown = [p for p in parts if p not in columns]
    if not spec.strip() or unknown:
        raise ConfigError(
            f"--by {spec!r}: unknown feature column(s) {', '.join(unknown) or '(empty)'}; "
            f"available: {', '.join(columns)}"
        )
    expr = " || '|' || ".join(f"CAST({quote_ident(p)} AS VARCHAR)" for p in parts)
    return Grouping(feature="+".join(parts), expr=expr)
