"""Paths named in a shared folder must stay inside it.

A relative path from a folder's JSON (``"vae": {"path": "vae"}``, ``"file": "denoiser.safetensors"``,
a manifest's file list) is resolved against the folder, symlinks included, and refused with a one-line
:class:`FolderPathError` naming the field unless the result lies inside the folder.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from zoo.errors import ZooError

__all__ = ["FolderPathError", "files_under", "inside"]


class FolderPathError(ZooError, ValueError):
    """A path named in a folder is absolute or leads outside the folder (``..``, an escaping symlink)."""


def inside(root: str | os.PathLike, relative: str, field: str, file: str | os.PathLike) -> Path:
    """``root / relative`` if it resolves inside ``root``; ``field`` and ``file`` name where it was read."""
    if (not relative or PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute()
            or PureWindowsPath(relative).drive):
        raise FolderPathError(f"{file}: {field}: {relative!r} must be a relative path inside the folder")
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise FolderPathError(f"{file}: {field}: {relative!r} leads outside the folder {root} (to {target})")
    return Path(root) / relative


def files_under(root: str | os.PathLike, sub: str) -> list[str]:
    """Every file under ``root/sub`` as a POSIX path relative to ``root`` (a symlink leaving ``root`` is refused)."""
    base = Path(root)
    top = base / sub
    if not top.exists() and not top.is_symlink():
        return []
    inside(base, sub, sub, base)
    out = []
    for path in sorted(top.rglob("*")):
        rel = path.relative_to(base).as_posix()
        inside(base, rel, rel, base)
        if path.is_file():
            out.append(rel)
    return out
