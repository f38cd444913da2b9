"""Groupings of the compared tokens: a named SQL expression whose value puts each token in a level (NULL: in
none). The default groupings of categories.csv, user `--by` groupings, and quantile bins of numeric columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np

from lossgap.analysis.join import JOINED, quote_ident
from lossgap.errors import ConfigError
from lossgap.rundir.categories import PROBE_GROUPING, PROBE_SOURCE_GROUPING, REPEAT_LEN_BINS, repeat_len_bin_sql

__all__ = [
    "Grouping",
    "column_grouping",
    "quantile_thresholds",
    "bin_sql",
    "default_groupings",
    "DECILES",
    "PROBE_GROUPING",
    "PROBE_SOURCE_GROUPING",
]

DECILES = tuple(str(d) for d in range(1, 11))
MAX_CROSSED = 3  # categories.csv has a column per crossed level: level_1, level_2, level_3


@dataclass(frozen=True, kw_only=True)
class Grouping:
    """A named SQL expression giving each token's level (cast to text; NULL puts it in no level)."""

    name: str
    expr: str
    order: tuple[str, ...] | None = None  # natural order of the levels (bins); None: most tokens first
    columns: tuple[str, ...] = ()  # the feature columns it reads (a regression control on them is dropped)
    # a crossed grouping's parts: one SQL expression per crossed column, whose values are the level's own columns
    # (level_1, level_2, … of categories.csv); empty for a grouping of one column
    parts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.parts) > MAX_CROSSED:
            raise ConfigError(
                f"grouping {self.name}: at most {MAX_CROSSED} columns can be crossed, got {len(self.parts)}"
            )


def column_grouping(columns: Sequence[str], available: Sequence[str]) -> Grouping:
    """A grouping by one feature column, or several crossed (levels joined with '|'), named COL1+COL2."""
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise ConfigError(
            f"--by {'+'.join(columns)}: unknown feature column(s) {', '.join(unknown)}; available: {', '.join(available)}"
        )
    parts = tuple(f"CAST({quote_ident(c)} AS VARCHAR)" for c in columns)
    return Grouping(name="+".join(columns), expr=" || '|' || ".join(parts), columns=tuple(columns),
                    parts=parts if len(parts) > 1 else ())  # fmt: skip


def quantile_thresholds(con: duckdb.DuckDBPyConnection, column: str, bins: int, source: str = JOINED) -> list[float]:
    """The inner quantiles (1/bins … (bins-1)/bins) of a numeric column over the compared tokens (those of the table
    `source`; ties repeat).

    Exact, as DuckDB's quantile_cont (linear between order statistics), but from the column's distinct values and
    their counts: memory grows with the distinct values (one per token id and count), not with the tokens."""
    found = con.execute(
        f"SELECT CAST({quote_ident(column)} AS DOUBLE) AS v, count(*) AS n FROM {source} "
        f"WHERE {quote_ident(column)} IS NOT NULL AND isfinite(CAST({quote_ident(column)} AS DOUBLE)) GROUP BY v ORDER BY v"
    ).fetchnumpy()
    values, counts = np.asarray(found["v"], np.float64), np.asarray(found["n"], np.int64)
    total = int(counts.sum())
    if total == 0:
        return []
    last_rank = np.cumsum(counts) - 1  # the rank (0-based) of each value's last occurrence
    out = []
    for i in range(1, bins):
        h = (total - 1) * i / bins
        low = int(np.floor(h))
        below = values[np.searchsorted(last_rank, low)]
        above = values[np.searchsorted(last_rank, min(low + 1, total - 1))]
        out.append(float(below + (h - low) * (above - below)))
    return sorted(out)


def bin_sql(column: str, thresholds: Sequence[float]) -> str:
    """Bin 1 … len(thresholds)+1 of a numeric column: 1 + the number of thresholds strictly below the value.

    Equal values always share a bin (one token id has one log_freq), so bins can differ in size.
    """
    if not thresholds:
        return f"CASE WHEN {quote_ident(column)} IS NULL THEN NULL ELSE '1' END"
    steps = " + ".join(f"CAST({quote_ident(column)} > {t!r} AS INTEGER)" for t in thresholds)
    return f"CASE WHEN {quote_ident(column)} IS NULL THEN NULL ELSE CAST(1 + {steps} AS VARCHAR) END"


def default_groupings(con: duckdb.DuckDBPyConnection) -> list[Grouping]:
    """The groupings of categories.csv that `compare` always computes."""
    bracket = "CASE WHEN bracket_side IN ('open', 'close', 'both') THEN "
    groupings = [
        Grouping(name="word_class", expr="word_class", columns=("word_class",)),
        Grouping(name="upos", expr="upos", columns=("upos",)),
        Grouping(name="tag", expr="tag", columns=("tag",)),
        Grouping(name="bracket_kind+bracket_side", expr=f"{bracket}bracket_kind || '|' || bracket_side END",
                 columns=("bracket_kind", "bracket_side"), parts=("bracket_kind", "bracket_side")),
        Grouping(name="repeat_len_bin", expr=repeat_len_bin_sql(), order=tuple(b[2] for b in REPEAT_LEN_BINS),
                 columns=("repeat_len",)),
    ]  # fmt: skip
    thresholds = quantile_thresholds(con, "log_freq", 10)
    if thresholds:
        groupings.append(Grouping(name="log_freq_decile", expr=bin_sql("log_freq", thresholds), order=DECILES,
                                  columns=("log_freq",)))  # fmt: skip
    groupings += [
        Grouping(name="domain", expr="domain", columns=("domain",)),
        Grouping(name="domain_type", expr="domain_type", order=("prose", "code", "markup"), columns=("domain_type",)),
        Grouping(name="domain+word_class", expr="domain || '|' || word_class", columns=("domain", "word_class"),
                 parts=("domain", "word_class")),
        Grouping(name="domain_type+bracket_side", expr=f"{bracket}domain_type || '|' || bracket_side END",
                 columns=("domain_type", "bracket_side"), parts=("domain_type", "bracket_side")),
        Grouping(name="domain+bracket_side", expr=f"{bracket}domain || '|' || bracket_side END",
                 columns=("domain", "bracket_side"), parts=("domain", "bracket_side")),
    ]  # fmt: skip
    columns = {row[0] for row in con.execute(f"DESCRIBE {JOINED}").fetchall()}
    if {"probe", "probe_mark", "probe_level"} <= columns:  # a probe run: the marked tokens by probe and difficulty
        found = con.execute(f"SELECT DISTINCT probe, probe_level FROM {JOINED} WHERE probe_mark").fetchall()
        known = ("copy", "copy_distance", "recall", "tracking", "tracking_swap", "pronoun", "brackets")
        found.sort(key=lambda r: (known.index(r[0]) if r[0] in known else len(known), str(r[0]), r[1]))
        order = tuple(f"{p}|{lvl}" for p, lvl in found)
        groupings.append(Grouping(name=PROBE_GROUPING, expr="CASE WHEN probe_mark THEN probe || '|' || probe_level END",
                                  order=order, columns=("probe", "probe_level"), parts=("probe", "probe_level")))  # fmt: skip
        if "probe_source" in columns:  # annotated since the column exists
            groupings.append(Grouping(name=PROBE_SOURCE_GROUPING, columns=("probe", "probe_level"), order=order,
                                      parts=("probe", "probe_level"),
                                      expr="CASE WHEN probe_source AND NOT probe_mark THEN probe || '|' || probe_level END"))  # fmt: skip
    return groupings
