"""Load TOML tables into typed, frozen dataclasses, with one-line errors.

Definitions are data: the dataclass *is* the schema.  Field types say what a
key must hold; ``field(metadata=...)`` adds the rest (a TOML name that is not a
Python identifier, a set of choices, a check function).  Every mistake raises
:class:`~boxwright.errors.DefinitionError` naming the file, the dotted key and
what was expected, with a "did you mean" for likely typos.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from boxwright.errors import DefinitionError

__all__ = ["load_table", "option", "read_toml"]

T = TypeVar("T")


def option(
    default: Any = dataclasses.MISSING,
    *,
    key: str | None = None,
    choices: tuple[Any, ...] | None = None,
    check: Callable[[Any], str | None] | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field with schema metadata.

    ``key`` is the TOML spelling when it differs from the attribute name;
    ``choices`` restricts the value; ``check`` returns a problem string or None.
    """
    meta = {"key": key, "choices": choices, "check": check}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a one-line DefinitionError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise DefinitionError(path, None, "file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise DefinitionError(path, None, f"invalid TOML: {error}") from None


def load_table(cls: type[T], table: Mapping[str, Any], path: Path, prefix: str = "") -> T:
    """Build ``cls`` from ``table``, validating keys and types recursively."""
    hints = typing.get_type_hints(cls)
    fields = {(_toml_key(f)): f for f in dataclasses.fields(cls) if f.init}
    for key in table:
        if key not in fields:
            raise DefinitionError(path, prefix + key, _unknown_key_message(key, list(fields)))
    values: dict[str, Any] = {}
    for key, field in fields.items():
        dotted = prefix + key
        if key not in table:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise DefinitionError(path, dotted, f"missing; expected {_describe(hints[field.name])}")
            continue
        value = _coerce(hints[field.name], table[key], path, dotted)
        choices = field.metadata.get("choices")
        if choices is not None and value not in choices:
            hint = _did_you_mean(str(value), [str(c) for c in choices])
            expected = ", ".join(map(str, choices))
            raise DefinitionError(path, dotted, f"expected one of {expected}; got {value!r}{hint}")
        check = field.metadata.get("check")
        if check is not None and value is not None and (problem := check(value)):
            raise DefinitionError(path, dotted, problem)
        values[field.name] = value
    return cls(**values)


def _toml_key(field: dataclasses.Field[Any]) -> str:
    return field.metadata.get("key") or field.name


def _unknown_key_message(key: str, known: list[str]) -> str:
    return f"unknown key{_did_you_mean(key, known)}; known keys: {', '.join(sorted(known))}"


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    if origin in (list, tuple):
        return f"a list of {_plural(typing.get_args(hint)[0])}"
    if origin is dict:
        return f"a table of {_plural(typing.get_args(hint)[1])}"
    if dataclasses.is_dataclass(hint):
        return "a table"
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _plural(hint: Any) -> str:
    return {str: "strings", int: "integers", bool: "booleans", float: "numbers"}.get(hint, "tables")


def _type_name(value: Any) -> str:
    return {
        str: "a string", int: "an integer", bool: "a boolean", float: "a number",
        list: "an array", dict: "a table",
    }.get(type(value), type(value).__name__)


def _coerce(hint: Any, value: Any, path: Path, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"unsupported union {hint}")
        return _coerce(options[0], value, path, key)
    wrong = DefinitionError(path, key, f"expected {_describe(hint)}; got {_type_name(value)}")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise wrong
        return load_table(hint, value, path, key + ".")
    if origin is list:
        if not isinstance(value, list):
            raise wrong
        (item,) = typing.get_args(hint)
        return tuple(_coerce(item, v, path, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is tuple:
        if not isinstance(value, list):
            raise wrong
        item = typing.get_args(hint)[0]
        return tuple(_coerce(item, v, path, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise wrong
        _, item = typing.get_args(hint)
        return {k: _coerce(item, v, path, f"{key}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise wrong
    if not isinstance(value, hint):
        raise wrong
    return value
