"""Token masks for filtered losses: named presets and user SQL conditions over feature columns.

A mask is checked against features.parquet before anything is computed: a condition that names a missing
column, is not valid SQL, or selects no token is a ConfigError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from lossgap.analysis.join import log_pos_expr, quote_literal
from lossgap.errors import ConfigError

__all__ = ["Mask", "PRESETS", "HEADLINE", "resolve_mask", "check_masks", "mask_flags"]

# repeat_len counts the longest earlier-seen n-gram ending at the token; 1 means only the token itself was
# seen before (common for any frequent word), so "repeated" starts at a repeated bigram.
PRESETS: dict[str, str] = {
    "all": "TRUE",
    "content": "word_class = 'content'",
    "function": "word_class = 'function'",
    "content_nonrepeat": "word_class = 'content' AND repeat_len < 2",
    "function_nonrepeat": "word_class = 'function' AND repeat_len < 2",
    "repeated": "repeat_len >= 2",
    "nonrepeated": "repeat_len < 2",
    "open_bracket": "bracket_side = 'open'",
    "close_bracket": "bracket_side = 'close'",
}
HEADLINE = ("all", "content", "function", "open_bracket", "close_bracket", "repeated", "nonrepeated")
_DOMAIN_PREFIX = "domain:"


@dataclass(frozen=True, kw_only=True)
class Mask:
    """A named boolean SQL condition over feature columns (`name` is what results files show)."""

    name: str
    condition: str


def resolve_mask(spec: str) -> Mask:
    """A preset name, `domain:NAME`, or else a SQL condition (named by its own text)."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("--mask is empty: give a preset (" + ", ".join(PRESETS) + ", domain:NAME) or a SQL condition")
    if spec in PRESETS:
        return Mask(name=spec, condition=PRESETS[spec])
    if spec.startswith(_DOMAIN_PREFIX) and spec[len(_DOMAIN_PREFIX) :]:
        return Mask(name=spec, condition=f"domain = {quote_literal(spec[len(_DOMAIN_PREFIX):])}")
    if ";" in spec:
        raise ConfigError(f"--mask {spec!r}: a mask is one SQL condition and may not contain ';'")
    return Mask(name=spec, condition=spec)


def _features_relation(
    con: duckdb.DuckDBPyConnection, features_path: Path, *, row_numbers: bool = False
) -> tuple[str, list[str]]:
    """SQL for features.parquet with `log_pos` (computed from pos when absent), and its column names."""
    path = quote_literal(str(features_path))
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()]
    extra = "" if "log_pos" in columns else f", {log_pos_expr(columns)} AS log_pos"
    numbers = ", file_row_number = true" if row_numbers else ""
    source = f"(SELECT f.*{extra} FROM read_parquet({path}{numbers}) f) AS features"
    return source, [*columns, "log_pos"] if extra else columns


def mask_flags(con: duckdb.DuckDBPyConnection, features_path: Path, mask: Mask, rows: np.ndarray) -> np.ndarray:
    """The mask's value (NULL counts as false) at the given rows of features.parquet, evaluated by DuckDB."""
    source, _ = _features_relation(con, features_path, row_numbers=True)
    result = con.execute(
        f"SELECT file_row_number AS row, coalesce(CAST(({mask.condition}) AS BOOLEAN), false) AS flag FROM {source}"
    ).fetchnumpy()
    flags = np.zeros(int(result["row"].max()) + 1 if len(result["row"]) else 0, dtype=bool)
    flags[np.asarray(result["row"], np.int64)] = np.asarray(result["flag"], dtype=bool)
    return flags[rows]


def check_masks(con: duckdb.DuckDBPyConnection, masks: Sequence[Mask], features_path: Path) -> dict[str, int]:
    """Tokens each mask selects in features.parquet; ConfigError for an invalid or empty mask.

    Conditions see only feature columns (plus pos and log_pos), never losses: selecting tokens on the
    outcome would bias every mean computed on the mask.
    """
    source, columns = _features_relation(con, features_path)
    counts: dict[str, int] = {}
    for mask in masks:
        try:
            row = con.execute(f"SELECT count(*) FILTER (WHERE ({mask.condition})) FROM {source}").fetchone()
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(
                f"--mask {mask.name!r} is not a valid condition over {features_path} ({first}); "
                f"columns: {', '.join(c for c in columns if c != 'doc_id')}"
            ) from None
        assert row is not None
        if int(row[0]) == 0:
            raise ConfigError(f"--mask {mask.name!r} selects no token in {features_path}: loosen the condition")
        counts[mask.name] = int(row[0])
    return counts
