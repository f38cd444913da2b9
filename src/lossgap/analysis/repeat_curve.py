"""The repeat curve: mean gap with interval per repeat length (1..32, 33+) and per repeat-distance bin.

Builds groupings over tokens that repeat at least themselves (repeat_len >= 1) and reshapes their level table
into repeat_curve.csv rows.
"""

from __future__ import annotations

import pandas as pd

from lossgap.analysis.groupings import Grouping

__all__ = ["MAX_REPEAT_LEN", "DIST_EDGES", "repeat_groupings", "repeat_curve_table"]

MAX_REPEAT_LEN = 32
DIST_EDGES = (1, 16, 64, 256, 1024, 4096, 16384)  # bin i holds distances in [edge_i, edge_{i+1})


def _len_labels() -> tuple[str, ...]:
    return (*(str(k) for k in range(1, MAX_REPEAT_LEN + 1)), f"{MAX_REPEAT_LEN + 1}+")


def _dist_labels() -> tuple[str, ...]:
    inner = [f"{lo}-{hi - 1}" for lo, hi in zip(DIST_EDGES, DIST_EDGES[1:], strict=False)]
    return (*inner, f"{DIST_EDGES[-1]}+")


def repeat_groupings() -> list[Grouping]:
    """Two groupings: `repeat_len` (tokens with repeat_len >= 1) and `repeat_dist` (those with a distance)."""
    length = (
        f"CASE WHEN repeat_len BETWEEN 1 AND {MAX_REPEAT_LEN} THEN CAST(repeat_len AS VARCHAR) "
        f"WHEN repeat_len > {MAX_REPEAT_LEN} THEN '{MAX_REPEAT_LEN + 1}+' END"
    )
    labels = _dist_labels()
    cases = " ".join(
        f"WHEN repeat_dist < {hi} THEN '{label}'" for hi, label in zip(DIST_EDGES[1:], labels[:-1], strict=True)
    )
    distance = (
        f"CASE WHEN repeat_len < 1 OR repeat_dist IS NULL OR repeat_dist < 1 THEN NULL {cases} ELSE '{labels[-1]}' END"
    )
    return [
        Grouping(name="repeat_len", expr=length, order=_len_labels(), columns=("repeat_len",)),
        Grouping(name="repeat_dist", expr=distance, order=labels, columns=("repeat_len", "repeat_dist")),
    ]


def repeat_curve_table(summary: pd.DataFrame) -> pd.DataFrame:
    """repeat_curve.csv rows from the `level_table` of `repeat_groupings()`."""
    orders = {"repeat_len": _len_labels(), "repeat_dist": _dist_labels()}
    table = summary.rename(columns={"feature": "kind", "value": "bin"}).copy()
    table["bin_order"] = [orders[k].index(b) + 1 for k, b in zip(table["kind"], table["bin"], strict=True)]
    table["_kind"] = [list(orders).index(k) for k in table["kind"]]
    return table.sort_values(["_kind", "bin_order"]).drop(columns="_kind").reset_index(drop=True)
