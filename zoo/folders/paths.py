"""Paths named in a shared folder must stay inside it.

A relative path from a folder's JSON (``"vae": {"path": "vae"}``, ``"file": "denoiser.safetensors"``,
a manifest's file list) is resolved against the folder, symlinks included, and refused with a one-line
:class:`FolderPathError` naming the field unless the result lies inside the folder. The one exception
is a Hugging Face cache snapshot, whose files are symlinks that huggingface_hub made into its repository's
``blobs/``: while :func:`linked_store` is active, a path that lies inside the folder before symlinks
are resolved may resolve into that store.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path, PurePosixPath, PureWindowsPath

from zoo.errors import ZooError

__all__ = ["FolderPathError", "files_under", "inside", "linked_store"]

_STORES: ContextVar[tuple[Path, ...]] = ContextVar("zoo_linked_stores", default=())


@contextmanager
def linked_store(store: str | os.PathLike) -> Iterator[None]:
    """While open, symlinks inside a checked folder may lead into ``store`` (a hub cache repository's blobs)."""
    token = _STORES.set((*_STORES.get(), Path(store).resolve()))
    try:
        yield
    finally:
        _STORES.reset(token)


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _chain(path: Path, limit: int = 40) -> list[Path]:
    """Each place a symlink chain starting at ``path`` passes through (real parent folder + name), the end included."""
    hops = []
    current = Path(os.path.realpath(path.parent)) / path.name
    while len(hops) < limit:
        hops.append(current)
        if not current.is_symlink():
            break
        link = current.parent / os.readlink(current)
        current = Path(os.path.realpath(link.parent)) / link.name
    return hops


def _linked_into_store(base: Path, relative: str, target: Path) -> bool:
    """True if ``relative`` stays inside ``base`` before symlinks are resolved and then leads into a linked store,
    every link of the chain lying inside ``base`` or a store (never passing through a folder outside them)."""
    written = Path(os.path.normpath(base / relative))
    stores = _STORES.get()
    if not _within(written, base) or not any(_within(target, store) for store in stores):
        return False
    return all(_within(hop, base) or any(_within(hop, store) for store in stores) for hop in _chain(written))


class FolderPathError(ZooError, ValueError):
    """A path named in a folder is absolute or leads outside the folder (``..``, an escaping symlink)."""


def inside(root: str | os.PathLike, relative: str, field: str, file: str | os.PathLike) -> Path:
    """``root / relative`` if it resolves inside ``root``; ``field`` and ``file`` name where it was read."""
    if (not relative or PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute()
            or PureWindowsPath(relative).drive):
        raise FolderPathError(f"{file}: {field}: {relative!r} must be a relative path inside the folder")
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if not _within(target, base) and not _linked_into_store(base, relative, target):
        raise FolderPathError(f"{file}: {field}: {relative!r} leads outside the folder {root} (to {target})")
    if _special(target):
        raise FolderPathError(f"{file}: {field}: {relative!r} is not a regular file or folder (a FIFO, socket or "
                              "device is never opened)")
    return Path(root) / relative


def _special(path: Path) -> bool:
    """True if ``path`` exists and is neither a regular file nor a folder (opening it could block or never end)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


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
