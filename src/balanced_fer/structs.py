"""Dataclasses built from JSON / YAML mappings, every value checked against its field's annotation.

One builder serves the recipes (``training.recipe``) and the model-file contract
(``models.description``): unknown keys, missing required fields, values of the wrong type and the
``ValueError`` a dataclass's ``__post_init__`` raises for values out of range all become lines in
``problems`` that name the field, so a caller reports every problem of a file at once.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any


def build(cls: type, values: Any, where: str, problems: list[str]) -> Any:
    """``cls`` from a mapping (nested dataclasses from nested mappings, lists as tuples where the
    field is a tuple). Each problem is appended to ``problems``; a field with a problem keeps its
    default, and the result is None when a required field is missing or the values are rejected."""
    if not isinstance(values, dict):
        problems.append(f"{where.rstrip('.') or 'the file'} must be a mapping, got {values!r}")
        return _default(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(f'{where}{k}' for k in unknown)} (known: {', '.join(fields)})")
    required = {
        n for n, f in fields.items() if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    kwargs, complete = {}, True
    for name in fields:
        if name not in values:
            if name in required:
                problems.append(f"missing field {where}{name}")
                complete = False
            continue
        value, hint = values[name], hints[name]
        nested = _dataclass_of(hint)
        if nested is not None and not (value is None and _allows_none(hint)):
            kwargs[name] = build(nested, {} if value is None else value, f"{where}{name}.", problems)
            complete = complete and kwargs[name] is not None
        elif not matches(value, hint):
            problems.append(f"{where}{name}: expected {describe(hint)}, got {value!r}")
            complete = complete and name not in required
        else:
            kwargs[name] = tuple(value) if typing.get_origin(hint) is tuple else value
    if not complete:
        return None
    try:
        return cls(**kwargs)
    except ValueError as err:  # a __post_init__ range check
        problems.append(f"{where.rstrip('.') + ': ' if where else ''}{err}")
        return None


def _default(cls: type) -> Any:
    try:
        return cls()
    except TypeError:  # required fields
        return None


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass a field holds (``X`` or ``X | None``), else None."""
    candidates = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    found = [c for c in candidates if dataclasses.is_dataclass(c)]
    return found[0] if found else None


def _allows_none(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)


def matches(value: Any, hint: Any) -> bool:
    """Whether a JSON / YAML value fits a field annotation (int, float, str, bool, None, lists,
    tuples, dicts, unions of those)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and all(matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return True


def describe(hint: Any) -> str:
    """An annotation in words, for error messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(arg) for arg in args)
    if origin in (list, tuple):
        return f"a list of {describe(args[0])}"
    if origin is dict:
        return "a mapping"
    return {type(None): "null", int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )
