"""Load TOML tables into typed, frozen dataclasses, with one-line errors.

Definitions are data: the dataclass *is* the schema.  Field types say what a
key must hold; ``field(metadata=...)`` adds the rest (a TOML name that is not a
Python identifier, a set of choices, a check function).  Every mistake raises
:class:`~boxwright.errors.DefinitionError` naming the file, the dotted key and
what was expected, with a "did you mean" for likely typos.

The checks both kinds of definition share live here too, one rule per concept:
:func:`check_name` (a definition's folder name), :func:`version_check` (dotted release
numbers), :func:`check_mirror`, :func:`check_package` / :func:`check_packages` (Debian
package names, optionally pinned) and :func:`check_image_reference` /
:func:`check_image_references` (Docker's reference grammar).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from boxwright.errors import DefinitionError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "check_image_reference",
    "check_image_references",
    "check_mirror",
    "check_name",
    "check_package",
    "check_packages",
    "load_table",
    "option",
    "read_toml",
    "version_check",
]

T = TypeVar("T", bound="DataclassInstance")


#: A definition's name (its folder): also a Docker repository component and a file name.
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
#: A Debian package name (Policy 5.6.1), optionally pinned ``=version`` (Policy 5.6.12).
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?")
#: Docker's image reference grammar (distribution/reference): ``[domain[:port]/]path[:tag][@digest]``.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
#: What Docker takes for a repository name at most (domain and path).
_NAME_MAX = 255


def check_name(value: str) -> str | None:
    """A definition's name: lowercase letters, digits, '.', '_', '-', starting with a letter or digit."""
    if _NAME.fullmatch(value):
        return None
    return f"expected a-z, 0-9, '.', '_', '-' (starting with a letter or digit); got {value!r}"


def version_check(parts: int, note: str = "") -> Callable[[str], str | None]:
    """The version rule: ``parts`` dot-separated numbers without leading zeros (``1.0.0``, ``0.3``).

    Images name a release (``X.Y.Z``, their tag); boxes name a release line (``X.Y``) and each
    build adds its own ``.Z`` (boxwright.box.catalog), so their Vagrant versions are ``X.Y.Z`` too.
    """
    number = r"(?:0|[1-9][0-9]*)"
    pattern = re.compile(r"\.".join([number] * parts))
    shape = ".".join("XYZW"[:parts])
    suffix = f" ({note})" if note else ""

    def check(value: str) -> str | None:
        return None if pattern.fullmatch(value) else f"expected a version {shape}{suffix}; got {value!r}"

    return check


def check_mirror(value: str) -> str | None:
    """A Debian mirror: an http(s):// or file:// URL."""
    ok = value.startswith(("http://", "https://", "file://")) and len(value.split("://", 1)[1]) > 0
    return None if ok else f"expected an http(s):// or file:// URL; got {value!r}"


def check_package(value: str) -> str | None:
    """A Debian package name, optionally pinned to a version (``curl``, ``curl=8.5.0-2``)."""
    return None if _PACKAGE.fullmatch(value) else f"expected Debian package names; {value!r} is not one"


def check_packages(value: tuple[str, ...]) -> str | None:
    """:func:`check_package` for each; the first bad one is named."""
    return next((problem for name in value if (problem := check_package(name))), None)


def check_image_reference(value: str) -> str | None:
    """A Docker image reference: ``debian:trixie-slim``, ``127.0.0.1:5000/x:1``, ``x@sha256:<64 hex>``.

    Repository paths are lowercase; a tag may hold uppercase letters, digits, '_', '.', '-'.
    """
    if (match := _REFERENCE.fullmatch(value)) and _is_reference(match):
        return None
    return ("expected an image reference like 'debian:trixie-slim' or 'registry:5000/name:tag' "
            f"(lowercase name); got {value!r}")


def _is_reference(match: re.Match[str]) -> bool:
    domain, path, digest = match["domain"], match["path"], match["digest"]
    # Like Docker, the first component is a registry only with a '.' or ':' in it, or as localhost;
    # otherwise it is part of the (lowercase) path: 'X/y' is a bad name, not registry 'X'.
    registry = bool(domain) and ("." in domain or ":" in domain or domain == "localhost")
    if domain and not registry and not re.fullmatch(_PATH_COMPONENT, domain):
        return False
    if digest and digest.startswith("sha256:") and len(digest) != len("sha256:") + 64:
        return False
    return len(f"{domain}/{path}" if domain else path) <= _NAME_MAX


def check_image_references(value: tuple[str, ...]) -> str | None:
    """:func:`check_image_reference` for each; the first bad one is named."""
    return next((problem for ref in value if (problem := check_image_reference(ref))), None)


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
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
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
