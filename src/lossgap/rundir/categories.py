"""Named categories of tokens that every stage reads the same way: the mask presets, user masks (SQL
conditions over feature columns, checked before use) and the repeat-length bins.

One definition each, here with the data contract: "repeated" means repeat_len >= 2 in compare's headline, in
curves, in the in-loop evaluator and in the report's viewer alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lossgap.errors import ConfigError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "PROBE_GROUPING",
    "PROBE_SOURCE_GROUPING",
    "PRESETS",
    "HEADLINE",
    "DEFAULT_MASKS",
    "REPEAT_LEN_BINS",
    "repeat_len_bin_sql",
    "Mask",
    "resolve_mask",
    "check_masks",
]

# The names under which compare's categories.csv holds a probe run's marked tokens by probe and difficulty, and the
# same for the marks' sources (a copy probe's first copy; only copy probes have sources)
PROBE_GROUPING = "probe+probe_level"
PROBE_SOURCE_GROUPING = "probe_source+probe_level"

# repeat_len counts the longest earlier-seen n-gram ending at the token; 1 means only the token itself was
# seen before (true of most function words in any long document), so "repeated" starts at a repeated bigram.
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
# the filtered losses that `lossgap curves`, `lossgap masks` and the in-loop evaluator compute unless told otherwise:
# the study's word classes without repetition, repetition itself, and the brackets
DEFAULT_MASKS = ("all", "content_nonrepeat", "function_nonrepeat", "repeated", "nonrepeated", "open_bracket",
                 "close_bracket")  # fmt: skip

# (lowest, highest or None, label) of each repeat_len bin, in order.
REPEAT_LEN_BINS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 7, "4-7"), (8, 15, "8-15"), (16, None, "16+"),
)  # fmt: skip


def repeat_len_bin_sql(column: str = "repeat_len") -> str:
    """SQL mapping a repeat_len column to its bin label (NULL stays NULL).

    >>> repeat_len_bin_sql("r")
    "CASE WHEN r IS NULL THEN NULL WHEN r <= 0 THEN '0' WHEN r <= 1 THEN '1' WHEN r <= 2 THEN '2' WHEN r <= 3 THEN '3' WHEN r <= 7 THEN '4-7' WHEN r <= 15 THEN '8-15' ELSE '16+' END"
    """
    cases = " ".join(
        f"WHEN {column} <= {high} THEN '{label}'" for _, high, label in REPEAT_LEN_BINS if high is not None
    )
    return f"CASE WHEN {column} IS NULL THEN NULL {cases} ELSE '{REPEAT_LEN_BINS[-1][2]}' END"


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


def check_masks(con: duckdb.DuckDBPyConnection, masks: Sequence[Mask], features: str, *,
                drop_empty: bool = False) -> dict[str, int]:  # fmt: skip
    """Tokens each mask selects in the view `features`; ConfigError for an invalid or empty mask. With
    `drop_empty` (the default masks, which a corpus without brackets cannot all fill) an empty mask is left out
    of the counts and logged instead: callers keep the masks the counts name.

    Conditions see only feature columns (plus pos), never losses: selecting tokens on the outcome would bias
    every mean computed on the mask.
    """
    import duckdb

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
            if drop_empty:
                log.info("default mask %s selects no scored token of this run: left out", mask.name)
                continue
            raise ConfigError(f"--mask {mask.name!r} selects no scored token: loosen the condition")
        counts[mask.name] = int(row[0])
    return counts
