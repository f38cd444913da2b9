"""One way to turn configs and records into JSON and back: `to_json` and `from_json`.

Dataclasses become objects, tuples and lists arrays, frozensets sorted arrays, paths strings, NaN and infinities
null. `from_json(cls, data)` rebuilds a dataclass from such JSON, checking every field against its type hint
and naming the key that does not fit; unknown keys are ignored, so older and newer run files stay readable.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from lossgap.errors import SchemaError

__all__ = ["to_json", "from_json", "JSON"]

JSON = Any
"""A value that `json.dumps` writes: None, bool, int, float, str, list, or dict with str keys."""

T = TypeVar("T")


def to_json(value: Any) -> JSON:
    """`value` as plain JSON data (see the module docstring).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     path: Path
    ...     steps: tuple[int, ...]
    ...     tags: frozenset[str]
    >>> to_json(C(Path("a/b"), (1, 2), frozenset({"y", "x"})))
    {'path': 'a/b', 'steps': [1, 2], 'tags': ['x', 'y']}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((to_json(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return to_json(value.item())
    return value


def _fail(where: str, expected: str, value: Any) -> typing.NoReturn:
    raise SchemaError(f"{where}: expected {expected}, got {value!r}")


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, where)
            except SchemaError as exc:
                errors.append(str(exc))
        _fail(where, " or ".join(getattr(a, "__name__", str(a)) for a in args), value)
    if origin is typing.Literal:
        if value not in args:
            _fail(where, f"one of {list(args)}", value)
        return value
    if dataclasses.is_dataclass(hint):
        return from_json(hint, value, where)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, dict):
            _fail(where, "an object", value)
        value_hint = args[1] if args else Any
        return {str(k): _convert(value_hint, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (tuple, list, frozenset) or hint in (tuple, list, frozenset):
        if not isinstance(value, list):
            _fail(where, "an array", value)
        item_hint = args[0] if args else Any
        items = [_convert(item_hint, v, f"{where}[{i}]") for i, v in enumerate(value)]
        container = origin or hint
        return container(items)
    if hint is Path:
        if not isinstance(value, str):
            _fail(where, "a path", value)
        return Path(value)
    if hint is float:
        if value is None:
            return math.nan  # NaN is written as null
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(where, "a number", value)
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, "an integer", value)
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            _fail(where, hint.__name__, value)
        return value
    raise TypeError(f"from_json cannot read type {hint!r} ({where})")  # a programming error, not bad input


def from_json(cls: type[T], data: JSON, where: str = "JSON") -> T:
    """A `cls` dataclass from JSON data written by `to_json`; SchemaError names the key that does not fit.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Window:
    ...     max_length: int
    ...     stride: int | None = None
    >>> from_json(Window, {"max_length": 64})
    Window(max_length=64, stride=None)
    >>> from_json(Window, {"max_length": "64"}, "run.json: models.x.context")
    Traceback (most recent call last):
    lossgap.errors.SchemaError: run.json: models.x.context.max_length: expected an integer, got '64'
    """
    if not isinstance(data, dict):
        _fail(where, f"an object ({cls.__name__})", data)
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise SchemaError(f"{where}: missing key {field.name!r}")
            continue
        values[field.name] = _convert(hints[field.name], data[field.name], f"{where}.{field.name}")
    return cls(**values)
