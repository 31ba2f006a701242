"""Atomic file writes: write to a temporary file beside the target, then rename over it.

Every temporary file or folder zoo creates for this is named ``.zoo-tmp-<pid>-<random>-<target>``
(:func:`temp_name`). One left behind by a killed process (its pid no longer alive, or older than
:data:`STALE_AFTER_S`) is removed by the next write into the same folder (:func:`clean_stale_temps`);
entries named otherwise (a user's own hidden files) are never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".zoo-tmp-"
STALE_AFTER_S = 24 * 3600
"""A temporary entry this old is stale even if a process with its pid is alive (pids are reused)."""
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-")
_cleaned: set[Path] = set()  # folders this process has already swept (one sweep per folder and process)


def temp_name(label: str) -> str:
    """A unique temporary name for ``label`` that :func:`clean_stale_temps` knows: ``.zoo-tmp-<pid>-<hex>-<label>``."""
    return f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{label}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no cheap check: rely on the age
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's process, or not a pid at all
        return pid > 0
    return True


def _is_stale(entry: Path, pid: int) -> bool:
    try:
        age = time.time() - entry.lstat().st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S or not _pid_alive(pid)


def clean_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove the stale temporary entries zoo named (:func:`temp_name`) directly in ``folder``; returns them.

    Runs once per folder and process; entries whose name does not start ``.zoo-tmp-<pid>-`` stay.
    """
    folder = Path(folder)
    key = Path(os.path.abspath(folder))
    if key in _cleaned:
        return []
    _cleaned.add(key)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match and _is_stale(entry, int(match.group(1))):
            with contextlib.suppress(OSError):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed.append(entry)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _usual_permissions(path: Path) -> None:
    """Give a file the permissions a plain ``open(path, "w")`` would (``0666 & ~umask``), keeping any
    executable bits: writers such as safetensors' ``save_file`` and ``mkstemp`` create private 0600 files."""
    os.chmod(path, (path.stat().st_mode & 0o777) | (0o666 & ~_umask()))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``path`` only if the block succeeds.

    The temporary name keeps the target's suffix (writers that pick a format from it still work).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=f"-{path.name}{suffix or ''}",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _usual_permissions(tmp_path)  # after the block: the writer may have replaced the file
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str, errors: str = "strict") -> None:
    """Atomically write ``text`` (UTF-8, whatever the locale) to ``path``; ``errors="surrogateescape"`` writes
    the original bytes of a file name that is not valid in the locale (``os.fsdecode``'s lone surrogates)."""
    write_bytes(path, text.encode("utf-8", errors))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, replace_all: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; its entries reach ``path`` only if the block succeeds.

    A new ``path`` is the temporary folder renamed in one step. An existing ``path`` keeps everything
    the block did not write: each top-level entry written (a file, or a sub-folder as a whole)
    replaces the entry of the same name, sub-folders first and ``manifest*`` files last; other
    entries are left alone (commands replace only their own files, see :mod:`zoo.folders.guard`).
    ``replace_all=True`` swaps the whole folder instead (for folders a command owns entirely, such
    as a training checkpoint). Every file written in it gets the usual permissions (the same as a
    JSON written with ``open``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=f"-{path.name}", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        for file in tmp.rglob("*"):
            if file.is_file() and not file.is_symlink():
                _usual_permissions(file)
        if not path.exists():
            os.replace(tmp, path)
        elif replace_all:
            _swap(tmp, path)
        else:
            entries = sorted(tmp.iterdir(), key=lambda p: (not p.is_dir(), p.name.startswith("manifest"), p.name))
            for entry in entries:
                target = path / entry.name
                if entry.is_dir() and not entry.is_symlink() and (target.exists() or target.is_symlink()):
                    _swap(entry, target)
                else:
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    os.replace(entry, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap(new: Path, target: Path) -> None:
    """Replace ``target`` (a folder or a file) by the folder ``new``, keeping the old one aside until done.

    The old entry is kept under a fresh :func:`temp_name`: nothing but what this call moved aside is deleted.
    """
    old = target.with_name(temp_name(f"{target.name}.old"))
    os.replace(target, old)
    os.replace(new, target)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)
