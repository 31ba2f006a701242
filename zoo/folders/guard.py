"""Output folders that never destroy data: the one check every command runs before any work.

Every command that writes a folder (``zoo eval``, ``eval compare``, ``screen``, ``prepare``,
``encode``, ``train``, ``sr``, ``zoo-export``) calls :func:`prepare_output` first:

- the output is never one of the inputs, and none of the entries the command writes there is or
  holds an input (an output folder inside an input folder is fine: nothing there is replaced);
- an existing non-empty folder (or, with ``existing="files"``, an existing output file) is refused
  unless ``overwrite``; even then only what the command itself writes is replaced
  (:func:`zoo.folders.atomic.atomic_dir` moves the command's own entries in and keeps everything else);
- the folder (or the nearest existing folder above it) must be writable, checked by really
  creating and removing a file there, before any expensive work;
- inside a command run (:func:`locking`, which every ``zoo`` and ``zoo-export`` command opens), the
  folder is locked by the run writing it (:func:`lock_output`: an OS advisory lock on ``OUT/.zoo-lock``,
  released when the run ends, even killed): a second run into the same folder fails in one line naming
  the other run's pid instead of mixing its files with the first's.

Errors are :class:`OutputError` (a :class:`~zoo.errors.ZooError` and an ``OSError``): one line
that names the option and the path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import ZooError

__all__ = [
    "LOCK_FILE",
    "OutputError",
    "OutputExistsError",
    "OutputLockedError",
    "OutputNotWritableError",
    "check_writable",
    "lock_output",
    "locking",
    "prepare_output",
    "prepare_output_file",
    "release_output_locks",
]


class OutputError(ZooError, OSError):
    """An output path zoo refuses to write (it is an input, it exists, or it cannot be written)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:  # OSError would print its args tuple for some argument counts
        return str(self.args[0])


class OutputExistsError(OutputError, FileExistsError):
    """The output folder (or an output file) exists and ``--overwrite`` was not given."""


class OutputNotWritableError(OutputError, PermissionError):
    """The output folder cannot be created or written."""


class OutputLockedError(OutputError):
    """Another running process holds the output folder's lock (it is writing there now)."""


_PROBE_PREFIX = ".zoo-write-check."  # the probe file of a concurrent check (several processes) is not content
LOCK_FILE = ".zoo-lock"  # removed after a run; one a killed run left is reused and never counts as content
_held: dict[Path, _Held] = {}  # real path of a locked folder -> the open lock file (this process holds it)
_runs = 0  # open locking() blocks: prepare_output locks the folders it checks while one is open


def _real(path: str | os.PathLike) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_inputs(out: Path, inputs: Iterable[str | os.PathLike], will_write: Iterable[str] | None,
                  option: str) -> None:
    real_out = _real(out)
    targets = [real_out / name for name in will_write or ()]
    for item in inputs:
        if item is None:
            continue
        real_in = _real(item)
        if real_out == real_in:
            raise OutputError(f"{option} {out}: is also an input ({item}); choose another {option}")
        if will_write is None and _inside(real_in, real_out):
            raise OutputError(f"{option} {out}: holds the input {item}; choose another {option}")
        for target in targets:
            if _inside(real_in, target):
                raise OutputError(f"{option} {out}: writing {target.name} there would replace the input {item}; "
                                  f"choose another {option}")


def _probe(folder: Path, option: str, out: Path) -> None:
    """Create and remove a file in ``folder``: the only check that also holds for root and read-only mounts."""
    try:
        fd, name = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=folder)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        where = "" if folder == out else f" ({folder} is not writable)"
        raise OutputNotWritableError(f"{option} {out}: cannot write there{where}: {reason}") from None
    os.close(fd)
    os.unlink(name)


def check_writable(out: Path, option: str = "--out") -> None:
    """Raise :class:`OutputNotWritableError` unless ``out`` (or the nearest existing folder above it) takes a file."""
    base = out
    while not base.exists():
        if base.is_symlink():  # a dangling link: mkdir would fail later
            raise OutputNotWritableError(f"{option} {out}: {base} is a broken symbolic link")
        if base.parent == base:
            break
        base = base.parent
    if base != out and not base.is_dir():
        raise OutputNotWritableError(f"{option} {out}: cannot create a folder there, {base} is a file")
    if base.is_dir():
        _probe(base, option, out)
    if base == out and out.parent != out and out.parent.is_dir():
        # atomic writes stage the new files beside the folder, in its parent
        _probe(out.parent, option, out)


def prepare_output(
    out: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
    overwrite: bool = False,
    will_write: Iterable[str] | None = None,
    existing: str = "folder",
    allow: Iterable[str] = (),
    option: str = "--out",
    lock: bool | None = None,
) -> Path:
    """Check (and, in a command run, lock) an output folder before any work; return it as a :class:`~pathlib.Path`.

    Nothing is created, except, when it locks, the folder and its lock file (removed again at the end of
    the run if the run wrote nothing there).

    ``inputs``: files and folders the command reads; the output may not be one of them, nor hold one in
    an entry it writes (``will_write``; without it, nor anywhere inside), even with ``overwrite``.
    ``will_write``: the names (files or sub-folders, relative to ``out``) the command writes.
    ``existing``: ``"folder"`` refuses a non-empty folder without ``overwrite``; ``"files"`` refuses
    only when one of ``will_write`` exists (commands that add files to a folder, such as ``zoo sr``).
    ``allow``: entries that may already be there without ``overwrite`` (e.g. a resumable cache's files).
    ``lock``: take the folder's lock (:func:`lock_output`) before checking what it holds; ``None``: only
    inside :func:`locking` (a command run), so plain library calls create nothing.
    Raises :class:`OutputExistsError`, :class:`OutputLockedError`, :class:`OutputNotWritableError` or
    :class:`OutputError`.
    """
    if existing not in ("folder", "files"):
        raise ValueError(f"existing must be 'folder' or 'files', got {existing!r}")
    out = Path(out)
    names = list(will_write) if will_write is not None else None
    _check_inputs(out, inputs, names, option)
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise OutputError(f"{option} {out}: exists and is not a folder")
    if _runs if lock is None else lock:
        check_writable(out, option)
        lock_output(out, option)
    if out.exists() or out.is_symlink():
        if not overwrite:
            allowed = set(allow)
            if existing == "files":
                present = [n for n in names or () if (out / n).exists() and n not in allowed]
                if present:
                    shown = ", ".join(present[:3]) + (f" and {len(present) - 3} more" if len(present) > 3 else "")
                    raise OutputExistsError(f"{option} {out}: {shown} already exist(s); pass --overwrite to replace "
                                            "them (nothing else in the folder is touched)")
            else:
                entries = sorted(p.name for p in out.iterdir() if p.name not in allowed and p.name != LOCK_FILE
                                 and not p.name.startswith(_PROBE_PREFIX))
                if entries:
                    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
                    raise OutputExistsError(f"{option} {out}: folder exists and is not empty ({shown}); choose "
                                            "another folder or pass --overwrite to replace only what this command "
                                            "writes")
    check_writable(out, option)
    return out


def prepare_output_file(
    path: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
    overwrite: bool = False,
    option: str,
) -> Path:
    """Check a file-valued output option (``zoo bench --json FILE``) before any work; nothing is created.

    The file may not be, or lie inside, one of ``inputs`` (files and folders the command reads: its
    pipeline, weights, data), even with ``overwrite``; an existing file is refused unless ``overwrite``,
    an existing folder always. Write it afterwards with :func:`zoo.folders.atomic.write_text`.
    """
    path = Path(path)
    real = _real(path)
    for item in inputs:
        if item is not None and _inside(real, _real(item)):
            raise OutputError(f"{option} {path}: is (or is inside) the input {item}; choose another file")
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder; give a file name")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputExistsError(f"{option} {path}: already exists; pass --overwrite to replace it")
    check_writable(path.parent, option)
    return path


# the run's lock --------------------------------------------------------------------------------------
def _secondary_process() -> bool:
    """Under ``accelerate launch`` (or torchrun) only the process of rank 0 locks: the others are the same run."""
    return os.environ.get("RANK", "0") not in ("", "0")


def _lock_holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return f"pid {text}" if text.isdigit() else "another process"


def _try_lock(fd: int) -> bool:
    """Take the lock on ``fd`` without waiting: ``fcntl.flock``, or ``msvcrt.locking`` where there is no fcntl."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _open_locked(lock: Path, option: str, out: Path) -> int:
    """Open ``lock`` and take its lock; retry when a finishing run removed the file in between
    (the lock must be on the file the path names now, not on a removed one)."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        if not _try_lock(fd):
            holder = _lock_holder(fd)
            os.close(fd)
            raise OutputLockedError(f"{option} {out}: another zoo run ({holder}) is writing this folder; wait for "
                                    f"it to finish or choose another {option}")
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock, follow_symlinks=False))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def lock_output(out: str | os.PathLike, option: str = "--out") -> Path:
    """Lock the output folder ``out`` (created if missing) for this process; return it.

    An OS advisory lock on ``OUT/.zoo-lock`` (holding the run's pid) that the OS releases when the process
    ends, however it ends: no stale lock after a crash or ``kill -9`` (a left lock file is reused).
    :func:`release_output_locks` removes the file, and the folder if the lock created it and it is still
    empty. Taking a lock this process already holds does nothing. Raises :class:`OutputLockedError` when
    another process holds it, :class:`OutputNotWritableError` when the folder or the lock file cannot be made.
    """
    out = Path(out)
    if _secondary_process():
        return out
    try:
        created = not (out.exists() or out.is_symlink())
        out.mkdir(parents=True, exist_ok=True)
        real = _real(out)
        if real in _held:
            return out
        fd = _open_locked(real / LOCK_FILE, option, out)
    except OSError as err:
        raise OutputNotWritableError(f"{option} {out}: cannot lock the folder: {err.strerror or err}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    _held[real] = _Held(fd, created)
    return out


@dataclass(frozen=True)
class _Held:
    fd: int
    created: bool  # the lock created the folder: removed again if the run left it empty


@contextlib.contextmanager
def locking() -> Iterator[None]:
    """A command run: :func:`prepare_output` locks the folders it checks; every lock taken is released at the end."""
    global _runs
    _runs += 1
    try:
        yield
    finally:
        _runs -= 1
        if not _runs:
            release_output_locks()


def release_output_locks() -> None:
    """Release every output lock this process holds (the commands call it when they finish)."""
    while _held:
        folder, held = _held.popitem()
        with contextlib.suppress(OSError):
            os.unlink(folder / LOCK_FILE)  # while still locked: a run starting now locks a new file
        os.close(held.fd)
        if held.created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty
