"""Picking a record's id and domain out of a mapping (a JSON object or a table row), with clear errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lossgap.corpus.config import CorpusConfig
from lossgap.errors import CorpusError

__all__ = ["id_column", "record_id", "record_domain"]

_DEFAULT_ID_FIELDS = ("id", "doc_id")


def id_column(columns: Sequence[str], config: CorpusConfig, where: str) -> str | None:
    """The id field to use among `columns` (None: generate ids); a requested field that is absent is an error."""
    if config.id_field is not None:
        if config.id_field not in columns:
            raise CorpusError(f"{where}: no id field {config.id_field!r} (fields: {', '.join(columns)})")
        return config.id_field
    return next((c for c in _DEFAULT_ID_FIELDS if c in columns), None)


def record_id(obj: Mapping[str, object], config: CorpusConfig, where: str) -> str | None:
    """The record's id as a string (integers allowed), None if it has none; other types are an error."""
    fields = (config.id_field,) if config.id_field is not None else _DEFAULT_ID_FIELDS
    for name in fields:
        value = obj.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise CorpusError(f"{where}: id field {name!r} is {type(value).__name__}; ids must be strings or integers")
        value = str(value)
        if not value:
            raise CorpusError(f"{where}: id field {name!r} is empty")
        return value
    return None


def record_domain(obj: Mapping[str, object], config: CorpusConfig, where: str) -> str | None:
    """The record's domain (None if absent or null); a non-string domain is an error."""
    value = obj.get(config.domain_field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CorpusError(f"{where}: domain field {config.domain_field!r} is {type(value).__name__}, expected a string")
    return value
