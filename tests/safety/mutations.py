"""Hypothesis strategies that damage a shared folder the way a careless or hostile sender would.

One :class:`Mutation` changes one file of a folder: a JSON value replaced, removed or added (odd
types, huge or negative numbers, paths and URLs, keys that name files, deep nesting), or the file
itself replaced by a FIFO, a symlink leading outside, nothing, huge padding or bytes that are not text.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

HOSTILE_STRINGS = ["/etc/passwd", "/dev/zero", "../outside", "hf:someone/repo", "os:system", "~/.ssh/id_rsa",
                   "https://example.org/w.ckpt", "w.safetensors", "", "AutoencoderKL", "silu", "x" * 300]
HOSTILE_KEYS = ["weights", "pretrained", "cache_dir", "factory", "trust_remote_code", "vae_path", "url", "_class_name",
                "format_version", "config", "name", "path", "file"]
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.sampled_from([0, -1, 10**9, 2**63])
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12) | st.sampled_from(HOSTILE_STRINGS))
KEYS = st.text(max_size=10) | st.sampled_from(HOSTILE_KEYS)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=8)
JSON_OPS = ("replace", "delete", "add_key", "deep", "huge", "not_text")
FILE_OPS = ("fifo", "symlink_out", "symlink_etc", "missing", "truncate")


@dataclass
class Mutation:
    """One change to ``file`` (relative to the folder): ``op`` with its drawn ``path`` and ``value``."""

    file: str
    op: str
    path: tuple = ()
    value: Any = None

    def apply(self, folder: Path, outside: Path) -> Path | None:
        """Change the folder; returns the FIFO made, if any (``outside``: a folder beside it for symlinks)."""
        target = folder / self.file
        if self.op in JSON_OPS:
            self._edit_json(target)
        elif self.op == "fifo":
            target.unlink()
            os.mkfifo(target)
            return target
        elif self.op in ("symlink_out", "symlink_etc"):
            copy = outside / target.name
            copy.write_bytes(target.read_bytes())
            target.unlink()
            target.symlink_to(copy if self.op == "symlink_out" else Path("/etc/passwd"))
        elif self.op == "missing":
            target.unlink()
        elif self.op == "truncate":
            data = target.read_bytes()
            target.write_bytes(data[: len(data) // 3])
        return None

    def _edit_json(self, target: Path) -> None:
        if self.op == "huge":
            target.write_bytes(target.read_bytes() + b" " * (17 * 1024 * 1024))
            return
        if self.op == "not_text":
            target.write_bytes(b"\xff\xfe\x00" + target.read_bytes())
            return
        data = json.loads(target.read_text())
        if self.op == "deep":  # written as text: json.dumps itself refuses deep nesting
            data = _changed(data, self.path, "replace", "__DEEP__")
            target.write_text(json.dumps(data).replace('"__DEEP__"', "[" * self.value + "]" * self.value))
            return
        target.write_text(json.dumps(_changed(data, self.path, self.op, self.value)))


def _changed(data: Any, path: tuple, op: str, value: Any) -> Any:
    if not path:
        return value if op == "replace" else data
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "add_key" and isinstance(parent[last], dict):
        parent[last].update(value)
    else:
        parent[last] = value
    return data


def json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indices) into a JSON value, the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:8]):
            out += json_paths(item, (*prefix, i))
    return out


@st.composite
def mutations(draw: st.DrawFn, folder: Path, json_files: list[str], other_files: list[str]) -> Mutation:
    """One :class:`Mutation` of a file of ``folder`` (the JSON files get value changes, every file file ops)."""
    file = draw(st.sampled_from(json_files + other_files))
    ops = (JSON_OPS + FILE_OPS) if file in json_files else FILE_OPS
    op = draw(st.sampled_from(ops))
    if op not in ("replace", "delete", "add_key", "deep"):
        return Mutation(file, op)
    paths = json_paths(json.loads((folder / file).read_text()))
    path = draw(st.sampled_from(paths[1:] if op == "delete" else paths))
    if op == "deep":
        return Mutation(file, op, path, draw(st.integers(20, 5000)))
    value = draw(st.dictionaries(KEYS, VALUES, min_size=1, max_size=3)) if op == "add_key" else draw(VALUES)
    return Mutation(file, op, path, value)
