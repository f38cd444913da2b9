"""The Arrow schema of each table of a run (corpus, tokens, scores, features), and the check every read and
write goes through: a missing column or one of the wrong type is a SchemaError naming the file and column."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from lossgap.errors import SchemaError

__all__ = [
    "CORPUS_SCHEMA",
    "TOKENS_SCHEMA",
    "SCORES_SCHEMA",
    "FEATURES_SCHEMA",
    "PROBES_SCHEMA",
    "PROBES_ADDED",
    "check_schema",
]

CORPUS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("domain", pa.string()),
        ("text", pa.string()),
        ("source", pa.string()),
    ]
)
TOKENS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("pos", pa.int32()),
        ("token_id", pa.int32()),
        ("char_start", pa.int32()),  # -1 for special tokens (the prefix token)
        ("char_end", pa.int32()),
    ]
)
SCORES_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("pos", pa.int32()),
        ("loss", pa.float32()),  # nats, -log p(token at pos | tokens before it)
    ]
)
# The marks of generated probe documents (`lossgap probes`): character spans of a document's text.
PROBES_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("probe", pa.string()),  # copy, recall, tracking, pronoun, brackets
        ("level", pa.int32()),  # the mark's difficulty (what it means depends on the probe)
        ("char_start", pa.int32()),  # the target: the characters the model must predict
        ("char_end", pa.int32()),
        ("src_start", pa.int32()),  # the source: the characters the target depends on
        ("src_end", pa.int32()),
        ("skip_first", pa.bool_()),  # the target's first token is not marked (a copy's first word)
    ]
)
# Columns of probes.parquet added later (older files lack them; readers take -1): where set, a marked token must
# also lie wholly within [within_start, within_end), and it is marked when it overlaps the target at all (a closing
# tag: the target is the tag's name, `within` the whole tag, so `</b>` as one token is marked and `></` is not).
PROBES_ADDED = pa.schema([("within_start", pa.int32()), ("within_end", pa.int32())])
# The contract's feature columns. Annotators may add more columns; these must be present with these types.
FEATURES_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("pos", pa.int32()),
        ("domain", pa.string()),
        ("domain_type", pa.string()),  # prose, markup or code
        ("token_text", pa.string()),
        ("upos", pa.string()),
        ("tag", pa.string()),
        ("word_class", pa.string()),
        ("word_piece", pa.string()),
        ("bracket_kind", pa.string()),
        ("bracket_side", pa.string()),
        ("repeat_len", pa.int32()),
        ("repeat_dist", pa.int32()),
        ("log_freq", pa.float64()),  # log10 of the token's count in the reference counts
        ("log_pos", pa.float64()),  # log10 of the position (null at the prefix token, pos 0)
        ("code_class", pa.string()),
    ]
)


def check_schema(table: pa.Table | pa.Schema, schema: pa.Schema, where: Path | str, *, cast: bool = True):
    """`table` with the contract's columns cast to their types (a Schema is only checked).

    Raises SchemaError naming `where` and the first missing column, or a column that cannot be cast.
    """
    names = table.names if isinstance(table, pa.Schema) else table.column_names
    missing = [f.name for f in schema if f.name not in names]
    if missing:
        raise SchemaError(f"{where}: missing column(s) {', '.join(missing)}")
    for field in schema:
        found = table.field(field.name).type
        if found == field.type:
            continue
        if isinstance(table, pa.Schema) or not cast:
            if not _castable(found, field.type):
                raise SchemaError(f"{where}: column {field.name!r} has type {found}, expected {field.type}")
            continue
        try:
            col = table.column(field.name).cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(f"{where}: column {field.name!r} has type {found}, expected {field.type}") from exc
        table = table.set_column(table.schema.get_field_index(field.name), field.name, col)
    return table


def _castable(found: pa.DataType, expected: pa.DataType) -> bool:
    """Whether a column of type `found` reads as `expected` without losing its meaning."""
    if pa.types.is_dictionary(found):
        found = found.value_type
    if found == expected:
        return True
    if pa.types.is_integer(expected):
        return pa.types.is_integer(found)
    if pa.types.is_floating(expected):
        return pa.types.is_floating(found) or pa.types.is_integer(found)
    if pa.types.is_string(expected):
        return pa.types.is_string(found) or pa.types.is_large_string(found)
    return False
