"""zoo's one per-user cache folder (exports made on the fly, TensorRT timing caches, ...).

``ZOO_CACHE`` if set, else the platform's cache folder: ``$XDG_CACHE_HOME/zoo`` or ``~/.cache/zoo``
(Linux and other POSIX), ``~/Library/Caches/zoo`` (macOS), ``%LOCALAPPDATA%\\zoo\\Cache`` (Windows).
The folder and each sub-folder zoo uses are created private (mode 0o700); on POSIX a folder owned
by another user, or writable by group or others, is refused with one line (a :class:`CacheDirError`):
anyone who can write there could plant an entry that zoo would use.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from zoo.errors import ZooError

__all__ = ["ENV_VAR", "CacheDirError", "cache_dir", "cache_root", "ensure_private_dir"]

ENV_VAR = "ZOO_CACHE"


class CacheDirError(ZooError, PermissionError):
    """A cache folder zoo will not use (another user's, or writable by others)."""

    def __str__(self) -> str:  # PermissionError would print its args tuple for some argument counts
        return str(self.args[0])


def _platform_cache_home() -> Path:
    """The platform's per-user cache folder (without ``zoo``)."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return Path(local) if local else Path.home() / "AppData" / "Local"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"  # the XDG spec ignores relative paths


def cache_root() -> Path:
    """Where zoo's cache lives: ``ZOO_CACHE`` or the platform default (nothing is created)."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser().absolute()
    home = _platform_cache_home()
    return home / "zoo" / "Cache" if sys.platform == "win32" else home / "zoo"


def ensure_private_dir(path: str | os.PathLike, what: str = "zoo cache folder") -> Path:
    """Create ``path`` (mode 0o700) if missing; raise :class:`CacheDirError` unless it is private to this user."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as err:
        raise CacheDirError(f"{what} {path}: cannot create it: {err.strerror or type(err).__name__}; "
                            f"set {ENV_VAR} to a private folder") from None
    if not stat.S_ISDIR(info.st_mode):
        raise CacheDirError(f"{what} {path}: exists and is not a folder; set {ENV_VAR} to a private folder")
    if os.name != "posix":
        return path
    if info.st_uid != os.getuid():
        raise CacheDirError(f"{what} {path}: owned by another user (uid {info.st_uid}); refusing to use it; "
                            f"set {ENV_VAR} to a folder of your own")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheDirError(f"{what} {path}: writable by group or others (mode {stat.S_IMODE(info.st_mode):o}); "
                            f"refusing to use it; run 'chmod go-w {path}' or set {ENV_VAR} to a private folder")
    return path


def cache_dir(*parts: str) -> Path:
    """The checked, private sub-folder ``parts`` of :func:`cache_root` (e.g. ``cache_dir("exports")``)."""
    path = ensure_private_dir(cache_root())
    for part in parts:
        path = ensure_private_dir(path / part)
    return path
