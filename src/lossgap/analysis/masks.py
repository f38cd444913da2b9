"""Token masks for filtered losses: named presets and user SQL conditions over feature columns.

A mask is checked against the run's features before anything is computed: a condition that names a missing
column, is not valid SQL, or selects no token is a ConfigError naming the mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from lossgap.errors import ConfigError
from lossgap.rundir.categories import HEADLINE, PRESETS

__all__ = ["Mask", "PRESETS", "HEADLINE", "resolve_mask", "check_masks"]

@dataclass(frozen=True, kw_only=True)
class Mask:
    """A named boolean SQL condition over feature columns (`name` is what results files show)."""

    name: str
    condition: str


def resolve_mask(spec: str) -> Mask:
    """A preset name, or else a SQL condition (named by its own text).

    >>> resolve_mask("repeated").condition
    'repeat_len >= 2'
    >>> resolve_mask("domain = 'python'").name
    "domain = 'python'"
    """
    spec = spec.strip()
    if not spec:
        raise ConfigError("--mask is empty: give a preset (" + ", ".join(PRESETS) + ") or a SQL condition")
    if spec in PRESETS:
        return Mask(name=spec, condition=PRESETS[spec])
    if spec.startswith("domain:"):
        raise ConfigError(
            f"--mask {spec!r}: the domain:NAME shorthand is gone; write the condition, e.g. \"domain = '{spec[7:]}'\""
        )
    if ";" in spec:
        raise ConfigError(f"--mask {spec!r}: a mask is one SQL condition and may not contain ';'")
    return Mask(name=spec, condition=spec)


def check_masks(con: duckdb.DuckDBPyConnection, masks: Sequence[Mask], features: str) -> dict[str, int]:
    """Tokens each mask selects in the view `features`; ConfigError for an invalid or empty mask.

    Conditions see only feature columns (plus pos), never losses: selecting tokens on the outcome would bias
    every mean computed on the mask.
    """
    columns = [r[0] for r in con.execute(f"DESCRIBE {features}").fetchall()]
    counts: dict[str, int] = {}
    for mask in masks:
        try:
            row = con.execute(
                f"SELECT count(*) FILTER (WHERE CAST(({mask.condition}) AS BOOLEAN)) FROM {features} WHERE pos > 0"
            ).fetchall()[0]
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(
                f"--mask {mask.name!r} is not a valid condition over the features ({first}); "
                f"columns: {', '.join(c for c in columns if c != 'doc_id')}"
            ) from None
        assert row is not None
        if int(row[0]) == 0:
            raise ConfigError(f"--mask {mask.name!r} selects no scored token: loosen the condition")
        counts[mask.name] = int(row[0])
    return counts
