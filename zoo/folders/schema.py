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
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ZooError

__all__ = [
    "Architecture", "Bool", "FolderSchemaError", "Int", "Json", "ListOf", "MapOf", "Number", "Obj", "Str", "Either",
    "json_depth", "parse_json", "read_json", "read_regular_file", "validate",
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
        limit = getattr(self, "limit", None)
        if limit is not None and _is_number(value) and math.isfinite(value) and value > limit:
            raise _Mismatch(where, f"expected at most {limit}, got {_shown(value)}")
        if not self.accepts(value, where):
            raise _Mismatch(where, f"expected {self.what}{' or null' if self.null else ''}, got {_shown(value)}")

    def accepts(self, value: Any, where: str) -> bool:
        raise NotImplementedError


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
    """An integer (not a bool), optionally with bounds (inclusive); ``limit``: an upper bound named on its own
    ("expected at most N") rather than in the description."""

    min: int | None = None
    max: int | None = None
    null: bool = False
    limit: int | None = None

    @property
    def what(self) -> str:  # type: ignore[override]
        words = _range_words(self.min, self.max, self.min == 1 and self.max is None)
        return f"a {words}integer" if words.startswith("positive") else f"an integer {words}".rstrip()

    def accepts(self, value: Any, where: str) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool)
                and (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
                and (self.limit is None or value <= self.limit))


@dataclass
class Number(Spec):
    """A finite number (int or float, not a bool); ``positive`` excludes 0; ``limit`` as for :class:`Int`."""

    min: float | None = None
    max: float | None = None
    positive: bool = False
    null: bool = False
    limit: float | None = None

    @property
    def what(self) -> str:  # type: ignore[override]
        if self.positive:
            return "a positive number"
        return f"a number {_range_words(self.min, self.max, False)}".rstrip()

    def accepts(self, value: Any, where: str) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        return ((not self.positive or value > 0) and (self.min is None or value >= self.min)
                and (self.max is None or value <= self.max) and (self.limit is None or value <= self.limit))


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


FILE_KEYS = frozenset({
    "weights", "pretrained", "pretrained_path", "pretrained_model_name_or_path", "_name_or_path", "cache_dir",
    "factory", "url", "uri", "trust_remote_code", "token", "revision", "subfolder", "local_files_only",
    "use_safetensors", "variant", "from_pt", "from_flax", "checkpoint", "ckpt", "state_dict", "source", "repo_id",
    "hub", "device_map", "module", "class", "callable", "import", "code", "script",
})
"""Keys that name files, weight sources or code: never part of a component config in a shared folder."""
FILE_KEY_ENDINGS = ("_path", "_paths", "_file", "_files", "_dir", "_url", "_uri", "_weights", "_checkpoint")
_LOCATION_SUFFIXES = (".ckpt", ".safetensors", ".pt", ".pth", ".bin", ".onnx", ".engine", ".json", ".py", ".so",
                      ".pkl", ".pickle", ".npz", ".yaml", ".yml")
ARCHITECTURE_BOUNDS: dict[str, Spec] = {}
"""Ranges of common architecture sizes (a list applies it to each item); filled in below."""


def names_a_file(key: str) -> bool:
    """True for a config key that names a file, a weight source or code (e.g. ``weights``, ``vae_path``)."""
    low = key.lower()
    return low in FILE_KEYS or low.endswith(FILE_KEY_ENDINGS)


def looks_like_location(text: str) -> bool:
    """True for a string shaped like a path, URL, hub id or ``module:function`` reference."""
    low = text.strip().lower()
    return (any(c in low for c in "/\\:") or low.startswith(("~", ".", "$")) or low.endswith(_LOCATION_SUFFIXES))


@dataclass
class Architecture(Spec):
    """A component config stored in a shared folder: architecture only. Keys that name files, sources or code
    (:func:`names_a_file`), strings shaped like paths or URLs (:func:`looks_like_location`) and sizes outside
    :data:`ARCHITECTURE_BOUNDS` are refused, at any depth."""

    what: str = "an object of architecture settings"
    null: bool = False

    def accepts(self, value: Any, where: str) -> bool:
        if not isinstance(value, dict):
            return False
        self._check_object(value, where)
        return True

    def _check_object(self, value: dict, where: str) -> None:
        for key, item in value.items():
            field_name = _join(where, key)
            if names_a_file(key):
                raise _Mismatch(field_name, "names a file, source or code; a component config in a shared folder "
                                            "holds architecture only")
            bound = ARCHITECTURE_BOUNDS.get(key)
            if bound is not None:
                for i, one in enumerate(item if isinstance(item, list) else [item]):
                    bound.check(one, f"{field_name}[{i}]" if isinstance(item, list) else field_name)
            self._check_value(item, field_name)

    def _check_value(self, value: Any, where: str) -> None:
        if isinstance(value, str) and looks_like_location(value):
            raise _Mismatch(where, f"{_shown(value)} looks like a path, URL or code reference; a component config "
                                   "in a shared folder holds architecture only")
        if isinstance(value, list):
            for i, item in enumerate(value):
                self._check_value(item, f"{where}[{i}]")
        elif isinstance(value, dict):
            self._check_object(value, where)


_CHANNELS = Int(1, 8192)
ARCHITECTURE_BOUNDS.update({
    "in_channels": Int(1, 64), "out_channels": Int(1, 64), "latent_channels": Int(1, 1024),
    "block_out_channels": _CHANNELS, "norm_num_groups": Int(1, 1024), "layers_per_block": Int(1, 16),
    "sample_size": Int(1, 16384), "hidden_size": _CHANNELS, "width": _CHANNELS, "depth": Int(1, 256),
    "blocks": Int(1, 256), "num_heads": Int(1, 256), "patch_size": Int(1, 64), "attention_head_dim": Int(1, 8192),
    "mlp_ratio": Number(positive=True, max=64), "num_train_timesteps": Int(1, 100_000),
})


def validate(data: Any, schema: Spec, file: str | os.PathLike) -> None:
    """Raise :class:`FolderSchemaError` (``FILE: FIELD: problem``) unless ``data`` matches ``schema``."""
    try:
        schema.check(data, "")
    except _Mismatch as err:
        raise FolderSchemaError(f"{file}: {err.where or '(top level)'}: {err.message}") from None


MAX_JSON_BYTES = 16 * 1024 * 1024
"""The largest JSON file of a folder that is read (a config or manifest is a few kilobytes)."""
MAX_JSON_DEPTH = 32
"""The deepest nesting of objects and lists accepted in a folder's JSON file (zoo's own files use 4)."""


def read_regular_file(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes (a FIFO, device or folder is
    refused without blocking); raises :class:`FolderSchemaError` naming the file otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as err:
        raise FolderSchemaError(f"{path}: cannot read ({err.strerror or err})") from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FolderSchemaError(f"{path}: not a regular file (a {what} must be a plain file)")
        if info.st_size > limit:
            raise FolderSchemaError(f"{path}: {info.st_size} bytes, more than the {limit} a {what} may hold")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FolderSchemaError(f"{path}: more than the {limit} bytes a {what} may hold")
    return data


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in the JSON ``text`` (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json(raw: bytes, path: str | os.PathLike) -> Any:
    """The JSON value of ``raw`` (UTF-8) read from ``path``; too deep a nesting is refused before parsing."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FolderSchemaError(f"{path}: cannot read (not UTF-8 text: {err.reason})") from err
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise FolderSchemaError(f"{path}: nested {depth} levels deep, more than the {MAX_JSON_DEPTH} allowed")
    try:
        return json.loads(text)
    except ValueError as err:
        raise FolderSchemaError(f"{path}: cannot read (not valid JSON: {err})") from err


def read_json(path: str | os.PathLike, schema: Spec | None = None) -> Any:
    """The content of the JSON file ``path`` (a regular file of at most :data:`MAX_JSON_BYTES`, nested at most
    :data:`MAX_JSON_DEPTH` levels), validated against ``schema`` if given."""
    data = parse_json(read_regular_file(path, MAX_JSON_BYTES, "JSON file"), path)
    if schema is not None:
        validate(data, schema, path)
    return data
