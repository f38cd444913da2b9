"""The explicit list of annotators: each a function from a chunk of documents to the columns it adds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from lossgap.features.brackets import annotate_brackets
from lossgap.features.code import annotate_code
from lossgap.features.position import annotate_position
from lossgap.features.probes import PROBE_COLUMNS, annotate_probes
from lossgap.features.rarity import annotate_rarity
from lossgap.features.records import Chunk, Resources
from lossgap.features.repeats import annotate_repeats
from lossgap.features.text import annotate_text
from lossgap.features.words import annotate_words

__all__ = ["Annotator", "ANNOTATORS", "annotator_names"]


@dataclass(frozen=True)
class Annotator:
    """`fn(chunk, resources)` returns one array per name in `columns`, each with one entry per token; an annotator
    with `applies` runs only where `applies(resources)` (its columns exist only in such runs)."""

    name: str
    columns: tuple[str, ...]
    fn: Callable[[Chunk, Resources], dict[str, pa.Array]]
    applies: Callable[[Resources], bool] | None = None


# To add an annotator: write a module with one such function and list it here; its column names become
# columns of features.parquet.
ANNOTATORS: tuple[Annotator, ...] = (
    Annotator("text", ("token_text", "domain", "domain_type"), annotate_text),
    Annotator("position", ("log_pos",), annotate_position),
    Annotator("words", ("upos", "tag", "word_class", "word_piece", "n_words"), annotate_words),
    Annotator("brackets", ("bracket_kind", "bracket_side", "bracket_match_dist"), annotate_brackets),
    Annotator("repeats", ("repeat_len", "repeat_dist"), annotate_repeats),
    Annotator("rarity", ("log_freq",), annotate_rarity),
    Annotator("code", ("code_class", "code_type"), annotate_code),
    Annotator("probes", PROBE_COLUMNS, annotate_probes, applies=lambda r: r.probe_marks is not None),
)


def annotator_names() -> tuple[str, ...]:
    return tuple(a.name for a in ANNOTATORS)
