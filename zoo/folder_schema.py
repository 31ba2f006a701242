"""A small JSON schema for the files of shared folders: types, ranges and known keys.

Every JSON file of a saved pipeline, a saved autoencoder or an export is checked with
:func:`validate` before anything in it is used; the first problem is one
:class:`FolderSchemaError` naming the file and the field, e.g.
``p/zoo_pipeline.json: steps: expected a positive integer or null, got "ten"``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ZooError

__all__ = [
    "Bool", "FolderSchemaError", "Int", "Json", "ListOf", "MapOf", "Number", "Obj", "Str", "Either",
    "read_json", "validate",
]


class FolderSchemaError(ZooError, ValueError):
    """A JSON file of a folder has a wrong type, an out-of-range value, an unknown or a missing key."""


class _Mismatch(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(where, message)
        self.where, self.message = where, message


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


class Spec:
    """One node of a schema: ``check(value, where)`` raises on a mismatch; ``what`` describes it."""

    what = "a value"
    null = False

    def check(self, value: Any, where: str) -> None:
        if value is None and self.null:
            return
        if not self.accepts(value, where):
            raise _Mismatch(where, f"expected {self.what}{' or null' if self.null else ''}, got {_shown(value)}")

    def accepts(self, value: Any, where: str) -> bool:
        raise NotImplementedError


@dataclass
class Json(Spec):
    """Any JSON value (free-form report data that nothing acts upon)."""

    what: str = "a JSON value"

    def accepts(self, value: Any, where: str) -> bool:
        return True


@dataclass
class Bool(Spec):
    what: str = "true or false"
    null: bool = False

    def accepts(self, value: Any, where: str) -> bool:
        return isinstance(value, bool)


def _range_words(lo: float | None, hi: float | None, positive: bool) -> str:
    if positive:
        return "positive "
    if lo is not None and hi is not None:
        return f"{lo}..{hi} "
    return f">= {lo} " if lo is not None else ""


@dataclass
class Int(Spec):
    """An integer (not a bool), optionally with bounds (inclusive)."""

    min: int | None = None
    max: int | None = None
    null: bool = False

    @property
    def what(self) -> str:  # type: ignore[override]
        words = _range_words(self.min, self.max, self.min == 1 and self.max is None)
        return f"a {words}integer" if words.startswith("positive") else f"an integer {words}".rstrip()

    def accepts(self, value: Any, where: str) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool)
                and (self.min is None or value >= self.min) and (self.max is None or value <= self.max))


@dataclass
class Number(Spec):
    """A finite number (int or float, not a bool); ``positive`` excludes 0."""

    min: float | None = None
    max: float | None = None
    positive: bool = False
    null: bool = False

    @property
    def what(self) -> str:  # type: ignore[override]
        if self.positive:
            return "a positive number"
        return f"a number {_range_words(self.min, self.max, False)}".rstrip()

    def accepts(self, value: Any, where: str) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        return ((not self.positive or value > 0) and (self.min is None or value >= self.min)
                and (self.max is None or value <= self.max))


@dataclass
class Str(Spec):
    """A string, optionally one of ``choices`` or accepted by ``test`` (described by ``what``)."""

    choices: tuple[str, ...] = ()
    null: bool = False
    test: Callable[[str], bool] | None = None
    what: str = "a string"

    def __post_init__(self) -> None:
        if self.choices:
            self.what = "one of " + ", ".join(json.dumps(c) for c in self.choices)

    def accepts(self, value: Any, where: str) -> bool:
        return (isinstance(value, str) and (not self.choices or value in self.choices)
                and (self.test is None or self.test(value)))


@dataclass
class ListOf(Spec):
    """A list whose items all match ``item``; ``min_len`` items at least."""

    item: Spec = field(default_factory=Json)
    min_len: int = 0
    max_len: int | None = None
    null: bool = False

    @property
    def what(self) -> str:  # type: ignore[override]
        if self.max_len is not None:
            size = f" of {self.min_len}" if self.min_len == self.max_len else f" of {self.min_len}..{self.max_len}"
        else:
            size = f" of at least {self.min_len}" if self.min_len else ""
        return f"a list{size} ({self.item.what} each)"

    def accepts(self, value: Any, where: str) -> bool:
        if not isinstance(value, list) or len(value) < self.min_len:
            return False
        if self.max_len is not None and len(value) > self.max_len:
            return False
        for i, item in enumerate(value):
            self.item.check(item, f"{where}[{i}]")
        return True


def _join(where: str, key: str) -> str:
    plain = key.replace("-", "_").isidentifier()
    return (f"{where}.{key}" if where else key) if plain else f"{where}[{json.dumps(key)}]"


@dataclass
class MapOf(Spec):
    """An object with free keys (strings) whose values all match ``value``."""

    value: Spec = field(default_factory=Json)
    min_len: int = 0
    null: bool = False

    @property
    def what(self) -> str:  # type: ignore[override]
        least = f"at least {self.min_len} " if self.min_len else ""
        return f"an object with {least}entries ({self.value.what} each)"

    def accepts(self, value: Any, where: str) -> bool:
        if not isinstance(value, dict) or len(value) < self.min_len:
            return False
        for key, item in value.items():
            self.value.check(item, _join(where, key))
        return True


@dataclass
class Obj(Spec):
    """An object with known keys: ``required`` and ``optional`` specs; any other key is refused."""

    required: Mapping[str, Spec] = field(default_factory=dict)
    optional: Mapping[str, Spec] = field(default_factory=dict)
    null: bool = False
    what: str = "an object"
    others: bool = False  # True: keys that some other reader owns are let through unchecked

    def accepts(self, value: Any, where: str) -> bool:
        if not isinstance(value, dict):
            return False
        known = {**self.required, **self.optional}
        for key in value:
            if key not in known and not self.others:
                raise _Mismatch(_join(where, key), f"unknown key (known: {', '.join(known)})")
        for key in self.required:
            if key not in value:
                raise _Mismatch(_join(where, key), "missing")
        for key, spec in known.items():
            if key in value:
                spec.check(value[key], _join(where, key))
        return True


@dataclass
class Either(Spec):
    """The first of ``options`` whose type fits (e.g. a URL string or an object of URLs)."""

    options: tuple[Spec, ...] = ()
    null: bool = False

    @property
    def what(self) -> str:  # type: ignore[override]
        return " or ".join(o.what for o in self.options)

    def accepts(self, value: Any, where: str) -> bool:
        for option in self.options:
            try:
                option.check(value, where)
                return True
            except _Mismatch:
                continue
        return False


def validate(data: Any, schema: Spec, file: str | os.PathLike) -> None:
    """Raise :class:`FolderSchemaError` (``FILE: FIELD: problem``) unless ``data`` matches ``schema``."""
    try:
        schema.check(data, "")
    except _Mismatch as err:
        raise FolderSchemaError(f"{file}: {err.where or '(top level)'}: {err.message}") from None


def read_json(path: str | os.PathLike, schema: Spec | None = None) -> Any:
    """The content of the JSON file ``path``, validated against ``schema`` if given."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise FolderSchemaError(f"{path}: cannot read ({err})") from err
    if schema is not None:
        validate(data, schema, path)
    return data
