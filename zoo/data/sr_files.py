"""``zoo sr``'s file side, as a library: inputs -> jobs, output guards, one file's SR, the manifest, resuming.

The CLI (:mod:`zoo.cli.sr`) only parses options and prints; everything here is callable from Python:

    jobs, errors = plan_jobs(["scans/"], "out/")
    check_outputs(jobs, "out/", inputs=["scans/"], overwrite=False, resume=False)   # refuses before any work
    run_jobs(pipe, jobs, "out/", options)                                           # -> RunResult

Safety (issue #18): an output never lands on an input (``--out`` inside an input folder is refused);
existing outputs and ``manifest.csv`` are never replaced unless ``overwrite`` (``resume`` keeps the
complete ones and redoes the rest); the output folder's writability is checked before any work; a bad
file (unreadable, unsupported, decompression bomb, out of memory) is one error line and the batch goes
on, while an unexpected exception inside zoo (a bug) stops the batch and propagates with its traceback
(the manifest keeps the files completed before it).

Resuming: an output is *complete* when the manifest records it with the sha256 of the file now on
disk, or, for a file written but not yet recorded (a run killed in between), when it reads back with
the expected shape. The manifest is rewritten atomically (never half-written) as files complete;
under ``accelerate launch`` each process writes ``.manifest.<rank>.csv`` and the main process merges
them (a resumed run merges the parts a killed run left).
"""

from __future__ import annotations

import csv
import glob
import io
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError
from zoo.folders.guard import OutputError, check_writable
from zoo.weights import sha256_file

__all__ = [
    "MANIFEST",
    "Job",
    "OutputGuardError",
    "bad_file_errors",
    "Computed",
    "RunResult",
    "SROptions",
    "check_outputs",
    "complete_rows",
    "compute_file",
    "expand_inputs",
    "plan_jobs",
    "read_file",
    "read_manifest_rows",
    "read_volume",
    "run_jobs",
    "super_resolve_file",
    "unique_ids",
    "write_file",
]

MANIFEST = "manifest.csv"
COLUMNS = ["id", "input", "output", "sha256"]
MAP_COLUMNS = ["uncertainty", "uncertainty_sha256"]  # written when a run writes uncertainty maps
UNCERTAINTY = ".uncertainty"  # OUT/NAME.uncertainty.EXT beside OUT/NAME.EXT
_GLOB_CHARS = set("*?[")
# Slices super-resolved per pipeline call are capped so that a call holds about this many HR pixels.
BATCH_PIXEL_BUDGET = 4 * 1024 * 1024


class OutputGuardError(OutputError, ValueError):
    """``zoo sr`` refuses to write: the output would replace an input or an earlier output, or ``--out``
    is not writable (:func:`zoo.folders.guard.check_writable`). Raised before any work."""


# inputs ---------------------------------------------------------------------------------------------
def prepared_lr_files(folder: Path, split: str) -> list[Path]:
    """The LR images of a prepared folder (``zoo prepare`` output), optionally one split, in manifest order."""
    from zoo.data.manifest import filter_split, read_manifest

    return [folder / r.lr for r in filter_split(read_manifest(folder), split)]


def expand_inputs(inputs: Iterable[str], split: str = "all") -> tuple[list[Path], list[tuple[str, str]]]:
    """(files, errors): folders are searched recursively for supported files, globs are expanded; a
    prepared folder (with manifest.csv) contributes its LR images of ``split``."""
    from zoo.data.errors import DataError
    from zoo.data.prepare import collect_files

    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    for item in inputs:
        if not os.path.exists(item) and _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                errors.append((item, "no file matches this pattern"))
            sources = matches
        else:
            sources = [item]
        for src in sources:
            try:
                if (Path(src) / "manifest.csv").is_file() and (Path(src) / "prepare.json").is_file():
                    files.extend(prepared_lr_files(Path(src), split))
                else:
                    files.extend(collect_files([src]))
            except DataError as err:
                errors.append((err.path or src, err.reason))
    return list(dict.fromkeys(files)), errors


def unique_ids(files: Sequence[Path]) -> list[str]:
    """A file-name-safe id per file (its stem; repeated stems get -2, -3, ...)."""
    from zoo.data.formats import stem
    from zoo.data.manifest import safe_id

    seen: dict[str, int] = {}
    out = []
    for path in files:
        base = safe_id(stem(path))
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


@dataclass(frozen=True)
class Job:
    """One input file and the output file it becomes (``OUT/<id><suffix of its format>``)."""

    ident: str
    source: Path
    output: Path

    @property
    def uncertainty(self) -> Path:
        """Where ``--uncertainty`` writes the output's map: ``OUT/<id>.uncertainty<suffix of the output>``."""
        return self.output.with_name(f"{self.ident}{UNCERTAINTY}{self.output.name[len(self.ident):]}")


def plan_jobs(
    inputs: Iterable[str], out: str | os.PathLike, split: str = "all",
) -> tuple[list[Job], list[tuple[str, str]]]:
    """(jobs, errors) for ``zoo sr INPUT... --out OUT``; a file whose format cannot be told is an error."""
    from zoo.data.errors import DataError
    from zoo.data.formats import SUFFIX, detect_format

    files, errors = expand_inputs(inputs, split)
    jobs = []
    for ident, path in zip(unique_ids(files), files, strict=True):
        try:
            fmt = detect_format(path)
        except DataError as err:
            errors.append((str(path), err.reason))
            continue
        jobs.append(Job(ident, path, Path(out) / f"{ident}{SUFFIX[fmt]}"))
    return jobs, errors


# guards ---------------------------------------------------------------------------------------------
def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_outputs(
    jobs: Sequence[Job], out: str | os.PathLike, inputs: Iterable[str] = (), *, overwrite: bool = False,
    resume: bool = False, uncertainty: bool = False,
) -> None:
    """Refuse (:class:`OutputGuardError`) before any work when the run would destroy data or cannot write.

    - an output path is one of the input files, or ``out`` is (inside) an input folder (its outputs would
      become inputs of the next run), whatever ``overwrite`` says;
    - without ``overwrite`` or ``resume``: an output file or ``manifest.csv`` already exists in ``out``;
    - ``out`` (or the folder that would hold it) is not writable.

    With ``uncertainty`` each job's map (:attr:`Job.uncertainty`) counts as one more output.
    """
    out = Path(out).resolve()
    sources = {j.source.resolve() for j in jobs}
    for job, output in _outputs_of(jobs, uncertainty):
        if output.resolve() in sources:
            raise OutputGuardError(f"--out {out}: the output {output.name} would replace the input {job.source}; "
                                   "choose another --out")
    for item in inputs:
        path = Path(item)
        if path.is_dir() and _inside(out, path.resolve()):
            raise OutputGuardError(f"--out {out} is inside the input folder {path}: outputs would mix with the "
                                   "inputs; choose an --out outside it")
    if not (overwrite or resume):
        existing = [output for _, output in _outputs_of(jobs, uncertainty) if output.exists()]
        if _manifest_blocks(out / MANIFEST):
            existing.insert(0, out / MANIFEST)
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise OutputGuardError(f"--out {out} already holds {existing[0].name}{more}: pass --resume to keep "
                                   "complete outputs and do the rest, or --overwrite to replace them")
    check_writable(out)


def _manifest_blocks(path: Path) -> bool:
    """Whether an existing ``manifest.csv`` needs ``--overwrite``/``--resume``: anything but a zoo manifest
    with no row (the empty one an earlier run where every file failed left)."""
    if not (path.exists() or path.is_symlink()):
        return False
    if path.is_symlink() or not path.is_file():
        return True
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return True
    return lines != [",".join(COLUMNS)]


def _outputs_of(jobs: Sequence[Job], uncertainty: bool) -> list[tuple[Job, Path]]:
    """(job, file) for each file the jobs write: the outputs, and their maps with ``uncertainty``."""
    return [(j, p) for j in jobs for p in ((j.output, j.uncertainty) if uncertainty else (j.output,))]


# manifest -------------------------------------------------------------------------------------------
def read_manifest_rows(path: Path) -> dict[str, dict[str, str]]:
    """Rows of a manifest (or a part) by id; a missing or unreadable file gives none, a torn row is skipped."""
    try:
        with path.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    return {r["id"]: r for r in rows if r.get("id") and r.get("output") and r.get("sha256")}


def _part(out: Path, rank: int) -> Path:
    return out / f".manifest.{rank}.csv"


def _write_rows(path: Path, rows: Iterable[dict[str, str]]) -> None:
    from zoo.folders.atomic import write_text

    rows = sorted(rows, key=lambda r: r["id"])
    columns = COLUMNS + MAP_COLUMNS if any(r.get(MAP_COLUMNS[0]) for r in rows) else COLUMNS
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n", extrasaction="ignore", restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue(), errors="surrogateescape")  # a file name's bytes, whatever the locale


def known_rows(out: Path) -> dict[str, dict[str, str]]:
    """The manifest's rows plus those of parts left by earlier (killed or multi-process) runs."""
    rows = read_manifest_rows(out / MANIFEST)
    for part in sorted(out.glob(".manifest.*.csv")):
        rows.update(read_manifest_rows(part))
    return rows


def merge_manifest(out: Path, jobs: Sequence[Job], world: int) -> int:
    """Merge the processes' parts into ``manifest.csv`` (atomically) and remove every part; returns the rows.

    Rows of this run's ids come from the parts only (each process verified or wrote them); rows of other
    ids in an existing manifest (earlier runs into the same folder) are kept.
    """
    ids = {j.ident for j in jobs}
    rows = {k: v for k, v in read_manifest_rows(out / MANIFEST).items() if k not in ids}
    for rank in range(world):
        rows.update(read_manifest_rows(_part(out, rank)))
    if rows or (out / MANIFEST).exists():
        _write_rows(out / MANIFEST, rows.values())
    for part in out.glob(".manifest.*.csv"):
        part.unlink(missing_ok=True)
    return len(rows)


def read_volume(path: str | os.PathLike, axis: int | str = "auto"):
    """Read ``path`` as ``zoo sr`` does: every frame; a NIfTI in its own voxel order, sliced along ``axis``
    (``auto``: across the acquisition plane, the two finest voxel axes)."""
    from zoo.data.readers import read_image

    return read_image(path, frame=None, slice_axis=axis, canonical=False)


def _readable_with_shape(job: Job, scale: int, axis: int | str = "auto") -> bool:
    """An output not in the manifest counts as complete if it reads back with the input's shape x scale."""
    try:
        src = read_volume(job.source, axis)
        got = read_volume(job.output, src.extra.get("slice_axis", axis))
    except Exception:  # noqa: BLE001 - any failure means "not complete": it is redone
        return False
    return got.array.shape == expected_shape(src.array.shape, src.layout, scale)


def expected_shape(shape: Sequence[int], layout: str, scale: int) -> tuple[int, ...]:
    shape = list(shape)
    h_axis = layout.index("H")
    shape[h_axis] *= scale
    shape[h_axis + 1] *= scale
    return tuple(shape)


def complete_rows(
    jobs: Sequence[Job], out: Path, scale: int, axis: int | str = "auto", uncertainty: bool = False,
) -> dict[str, dict[str, str]]:
    """Rows (by id) of the jobs whose outputs are complete (see the module docstring); with ``uncertainty``
    a job is complete only when its map is too (recorded with its sha256, or readable with the shape)."""
    rows = known_rows(out)
    done: dict[str, dict[str, str]] = {}
    for job in jobs:
        if not job.output.is_file() or (uncertainty and not job.uncertainty.is_file()):
            continue
        row = rows.get(job.ident)
        if row and row["output"] == job.output.name and row["input"] == str(job.source):
            if row["sha256"] == sha256_file(job.output) and (not uncertainty or _map_recorded(row, job)):
                done[job.ident] = row
                continue
        if _readable_with_shape(job, scale, axis) and (
                not uncertainty or _readable_with_shape(Job(job.ident, job.source, job.uncertainty), scale, axis)):
            done[job.ident] = _row(job, uncertainty)
    return done


def _map_recorded(row: dict[str, str], job: Job) -> bool:
    """The row records the job's map file as it is on disk."""
    return row.get(MAP_COLUMNS[0]) == job.uncertainty.name and row.get(MAP_COLUMNS[1]) == sha256_file(job.uncertainty)


def _row(job: Job, uncertainty: bool = False) -> dict[str, str]:
    row = {"id": job.ident, "input": str(job.source), "output": job.output.name, "sha256": sha256_file(job.output)}
    if uncertainty:
        row.update(zip(MAP_COLUMNS, (job.uncertainty.name, sha256_file(job.uncertainty)), strict=True))
    return row


# one file -------------------------------------------------------------------------------------------
@dataclass
class SROptions:
    """Options of an SR run over files (``zoo sr``'s)."""

    seed: int = 0
    steps: int | None = None
    sampler: str | None = None
    batch_size: int = 8
    tile: int | str | None = None
    self_ensemble: int | None = None  # flips/rotations combined (None: the pipeline's option)
    pipeline_id: str = ""  # identifies the pipeline in DICOM derivation tags and derived series UIDs
    axis: int | str = "auto"  # NIfTI slice axis in the file's voxel order; auto: across the acquisition plane
    progress: bool = False  # bars within a file: its slices/frames and each SR pass's sampler steps
    uncertainty: bool = False  # also write each output's uncertainty map (Job.uncertainty)
    uncertainty_samples: int = 1  # seeds whose spread the map adds (zoo.ops.uncertainty)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from zoo.data.slices import parse_slice_axis

        self.axis = parse_slice_axis(self.axis)  # a bad axis fails here, once, not on every file


def super_resolve_file(pipe: Any, path: Path, output: Path, options: SROptions, out_dir: Path | None = None,
                       uncertainty_output: Path | None = None) -> Path:
    """Read ``path``, super-resolve every slice of every frame, write ``output`` in the input's format.

    A volume (NIfTI 3D/4D, multi-frame DICOM, TIFF stack) gets one intensity mapping for all its
    slices and frames (its whole range) and the same seed for every slice, so neighbouring slices are
    treated alike. A NIfTI keeps its voxel order and is super-resolved in its acquisition plane (slices
    along ``options.axis``); its sform/qform are scaled to the new grid over the same extent, codes kept.
    A DICOM output is a derived series (new Series/SOP Instance UIDs, see
    :class:`zoo.data.writers.DerivedSeries`). With ``options.uncertainty`` the map of expected absolute
    error goes to ``uncertainty_output`` in the same format and value scale (NIfTI: float32; DICOM: its own
    derived series whose SourceImageSequence names the SR image first), written after the output.
    The three steps are :func:`read_file`, :func:`compute_file` and :func:`write_file` (``run_jobs`` overlaps
    the reading and writing of neighbouring files with the computing of this one).
    """
    image = read_file(path, options)
    return write_file(pipe, compute_file(pipe, image, path, options), path, output, options, out_dir,
                      uncertainty_output)


@dataclass
class Computed:
    """One file's SR, ready to write: the image read (format, metadata) and the stacked results."""

    image: Any
    result: np.ndarray
    maps: np.ndarray | None


def read_file(path: Path, options: SROptions) -> Any:
    """The input image of ``path`` (every slice and frame; a decoder's error is :class:`~zoo.data.errors.DataError`)."""
    return _read_input(path, lambda source, frame=None: read_volume(source, options.axis))


def compute_file(pipe: Any, image: Any, path: Path, options: SROptions) -> Computed:
    """The SR (and maps with ``options.uncertainty``) of every slice of ``image``, read from ``path``."""
    result, maps = _super_resolve_slices(pipe, image, path, options)
    return Computed(image, result, maps)


def write_file(pipe: Any, computed: Computed, path: Path, output: Path, options: SROptions,
               out_dir: Path | None = None, uncertainty_output: Path | None = None) -> Path:
    """Write ``computed`` to ``output`` in its input's format (and its map to ``uncertainty_output``)."""
    from zoo.data.writers import write_like

    image = computed.image
    derived = _derived_series(pipe, image, path, options, out_dir) if image.format == "dicom" else None
    written = write_like(output, computed.result, image, derived=derived)
    if computed.maps is not None and uncertainty_output is not None:
        map_series = _map_series(pipe, image, written, options, out_dir) if derived is not None else None
        write_like(uncertainty_output, computed.maps, image, derived=map_series, float_nifti=True)
    return written


def _super_resolve_slices(pipe: Any, image: Any, path: Path,
                          options: SROptions) -> tuple[np.ndarray, np.ndarray | None]:
    """The SR of every slice of ``image`` (stacked like it) and, with ``options.uncertainty``, their maps."""
    value_range = pipe.volume_range(image.array) if image.is_volume else None
    n = image.num_slices
    h, w = image.array.shape[-3:-1] if image.layout.endswith("C") else image.array.shape[-2:]
    hr_pixels = h * w * pipe.scale**2
    batch = max(1, min(options.batch_size, BATCH_PIXEL_BUDGET // max(1, hr_pixels)))
    extra = {"uncertainty": True, "uncertainty_samples": options.uncertainty_samples} if options.uncertainty else {}
    result: np.ndarray | None = None
    maps: np.ndarray | None = None
    for start in _slice_starts(path, n, batch, options.progress):
        chunk = [image.slice(i) for i in range(start, min(n, start + batch))]
        outs = pipe(chunk, seed=[options.seed] * len(chunk), steps=options.steps, sampler=options.sampler,
                    progress=options.progress, tile=options.tile, value_range=value_range,
                    self_ensemble=options.self_ensemble, **extra)
        outs, errs = outs if options.uncertainty else (outs, None)
        if not image.is_volume:
            return outs[0], (errs[0] if errs else None)
        if result is None:
            result = np.empty((n, *outs[0].shape), dtype=outs[0].dtype)
            maps = np.empty((n, *errs[0].shape), dtype=np.float32) if errs else None
        result[start : start + len(outs)] = np.stack(outs)
        if errs:
            maps[start : start + len(errs)] = np.stack(errs)
        del outs, errs
    return result, maps


def _derived_series(pipe: Any, image: Any, path: Path, options: SROptions, out_dir: Path | None,
                    what: str = "", sources: tuple[tuple[str, str], ...] = ()) -> Any:
    """The DICOM derived series of an SR output (``what``: "" for the SR, else a map's name)."""
    import zoo
    from zoo.data.writers import DerivedSeries, derived_series_uid

    ds = image.extra["dataset"]
    series = str(ds.get("SeriesInstanceUID", "") or path)
    context = [str(out_dir.resolve()) if out_dir else "", options.pipeline_id, str(pipe.scale)]
    context += [what] if what else []
    done = f"Super-resolved x{pipe.scale} by zoo {zoo.__version__} (pipeline {options.pipeline_id or 'default'}, " \
           f"seed {options.seed})"
    return DerivedSeries(
        series_uid=derived_series_uid(series, *context),
        description=f"{what} of the image {done[0].lower()}{done[1:]}" if what else done,
        suffix=f" SR x{pipe.scale}" + (f" {what.split()[0].lower()}" if what else ""),
        sources=sources,
    )


def _map_series(pipe: Any, image: Any, sr_file: Path, options: SROptions, out_dir: Path | None) -> Any:
    """The derived series of an SR output's uncertainty map: its own UIDs, deriving from the SR image."""
    import pydicom

    sr = pydicom.dcmread(sr_file, stop_before_pixels=True)
    what = "Uncertainty map (expected absolute error per pixel, in the image's units)"
    sources = ((str(sr.SOPClassUID), str(sr.SOPInstanceUID)),)
    return _derived_series(pipe, image, sr_file, options, out_dir, what, sources)


def _slice_starts(path: Path, n: int, batch: int, progress: bool) -> Iterable[int]:
    """First slice of each pipeline call; with ``progress`` a bar over the file's slices (for a volume) that
    advances as each call completes (inside a call, the sampler's bar advances per step of each SR pass)."""
    starts = range(0, n, batch)
    if not progress or n == 1:
        yield from starts
        return
    from tqdm.auto import tqdm

    with tqdm(total=n, desc=path.name, unit="slice", leave=False, mininterval=0) as bar:  # calls are slow: draw each
        for start in starts:
            yield start
            bar.update(min(n, start + batch) - start)


# a run ----------------------------------------------------------------------------------------------
@dataclass
class RunResult:
    written: list[Job] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def bad_file_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "zoo cannot use this file" (one line, the batch goes on); any other is a bug.

    zoo's own errors (:class:`~zoo.errors.ZooError`: unreadable, unsupported, too large), a file system
    error (``OSError``, ``EOFError``), and running out of memory on a file too large (``MemoryError``,
    torch's out-of-memory error, Pillow's decompression-bomb guard).
    """
    found: list[type[BaseException]] = [ZooError, OSError, EOFError, MemoryError]
    try:
        from PIL import Image

        found.append(Image.DecompressionBombError)
    except ImportError:  # pragma: no cover
        pass
    import torch

    found.append(torch.OutOfMemoryError)
    return tuple(found)


def _raised_outside_zoo(err: BaseException) -> bool:
    """Whether the innermost frame of ``err``'s traceback is in a library (a decoder), not in zoo's code."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    return module.split(".")[0] != "zoo"


def _read_input(path: Path, read: Callable[..., Any]) -> Any:
    """``read(path, frame=None)``; a decoder library's own error while reading makes the file unusable
    (:class:`~zoo.data.errors.DataError`). An exception raised by zoo's code while reading is a bug and propagates."""
    from zoo.data.errors import DataError

    try:
        return read(path, frame=None)
    except bad_file_errors():
        raise
    except Exception as err:  # noqa: BLE001 - a decoder raising on a corrupt file: the file is bad
        if not _raised_outside_zoo(err):
            raise
        raise DataError(path, f"cannot be read ({type(err).__name__}: {err})") from err


def _reason(err: BaseException, path: Path) -> str:
    from zoo.data.errors import DataError

    if isinstance(err, DataError) and err.path == str(path):
        reason = err.reason
    elif isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        reason = f"out of memory ({err or 'MemoryError'}); try a smaller --tile or --batch-size"
    else:
        reason = str(err) or type(err).__name__
    return " ".join(reason.split())


def run_jobs(
    pipe: Any, jobs: Sequence[Job], out: str | os.PathLike, options: SROptions, *, resume: bool = False,
    rank: int = 0, world: int = 1, on_error: Callable[[str, str], None] | None = None,
    progress: Callable[[Iterable[Job]], Iterable[Job]] | None = None, flush_every: float = 2.0,
) -> RunResult:
    """Super-resolve this process's share of ``jobs`` (job ``i`` goes to process ``i % world``).

    Complete outputs are skipped with ``resume``. After each file the process's manifest part is
    rewritten atomically (at most every ``flush_every`` seconds, and at the end); a single process
    writes ``manifest.csv`` itself. Call :func:`merge_manifest` on the main process after all are done.

    While a file is computed, the next one is read (one ahead) and the previous one is written (one behind),
    each on its own thread; the manifest, the results and the error lines stay in the jobs' order, and at most
    three files are in memory at once.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mine = [job for i, job in enumerate(jobs) if i % world == rank]
    result = RunResult()
    rows = complete_rows(mine, out, int(pipe.scale), options.axis, options.uncertainty) if resume else {}
    result.skipped = [j for j in mine if j.ident in rows]
    if world == 1:  # one process writes manifest.csv itself, keeping rows of ids this run does not touch
        ids = {j.ident for j in jobs}
        rows = {**{k: v for k, v in read_manifest_rows(out / MANIFEST).items() if k not in ids}, **rows}
    target = out / MANIFEST if world == 1 else _part(out, rank)
    todo = [j for j in mine if j not in result.skipped]
    stages = _FileStages(pipe, out, options, result, rows, on_error)
    last = 0.0
    try:
        for job in stages.run(todo, progress):
            if job is not None and time.monotonic() - last >= flush_every:
                _write_rows(target, rows.values())
                last = time.monotonic()
    finally:  # also when a bug stops the batch: what is complete stays recorded (--resume skips it)
        stages.close()
        _flush_manifest(out, target, rows, world)
    return result


class _FileStages:
    """``run_jobs``' loop: read the next file and write the previous one on two threads while this one is
    computed; every outcome is handled on the calling thread, in the jobs' order."""

    def __init__(self, pipe: Any, out: Path, options: SROptions, result: RunResult, rows: dict[str, dict[str, str]],
                 on_error: Callable[[str, str], None] | None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pipe, self.out, self.options, self.result, self.rows, self.on_error = \
            pipe, out, options, result, rows, on_error
        self.errors = bad_file_errors()
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="zoo-sr-read")
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="zoo-sr-write")
        self.reads: list[tuple[Job, Any]] = []
        self.pending: list[tuple[Job, Any]] = []  # the write in flight (at most one)

    def run(self, todo: list[Job], progress: Callable[[Iterable[Job]], Iterable[Job]] | None) -> Iterable[Job | None]:
        """Yield each job once its output is written and recorded (``None`` after a failed one)."""
        upcoming = iter(todo)
        self._read_next(upcoming)
        for job in progress(todo) if progress else todo:
            queued, reading = self.reads.pop(0)
            assert queued is job, "jobs are read in order"
            self._read_next(upcoming)
            try:
                computed = compute_file(self.pipe, reading.result(), job.source, self.options)
            except self.errors as err:
                yield self._settle()
                self._fail(job, err)
                yield None
                continue
            except Exception as err:  # a bug: the batch stops; the traceback names the file
                err.add_note(f"zoo sr: while super-resolving {job.source}")
                raise
            yield self._settle()
            self.pending.append((job, self.writer.submit(self._write, job, computed)))
        yield self._settle()

    def _read_next(self, upcoming: Iterable[Job]) -> None:
        job = next(iter(upcoming), None)
        if job is not None:
            self.reads.append((job, self.reader.submit(read_file, job.source, self.options)))

    def _write(self, job: Job, computed: Computed) -> dict[str, str]:
        write_file(self.pipe, computed, job.source, job.output, self.options, self.out, job.uncertainty)
        return _row(job, self.options.uncertainty)

    def _settle(self) -> Job | None:
        """Wait for the write in flight and record it (or its error line); the job, or ``None``."""
        if not self.pending:
            return None
        job, writing = self.pending.pop()
        try:
            row = writing.result()
        except self.errors as err:
            self._fail(job, err)
            return None
        except Exception as err:  # a bug: the batch stops; the traceback names the file
            err.add_note(f"zoo sr: while writing the output of {job.source}")
            raise
        self.rows[job.ident] = row
        self.result.written.append(job)
        return job

    def _fail(self, job: Job, err: BaseException) -> None:
        reason = _reason(err, job.source)
        self.result.failed.append((str(job.source), reason))
        if self.on_error:
            self.on_error(str(job.source), reason)

    def close(self) -> None:
        """Record a write that completed before the batch stopped, then end both threads."""
        for job, writing in self.pending:
            try:
                self.rows[job.ident] = writing.result()
                self.result.written.append(job)
            except Exception:  # noqa: BLE001 - the batch is already stopping on another error
                pass
        self.pending.clear()
        for _, reading in self.reads:
            reading.cancel()
        self.reader.shutdown(wait=True)
        self.writer.shutdown(wait=True)


def _flush_manifest(out: Path, target: Path, rows: dict[str, dict[str, str]], world: int) -> None:
    """Write the manifest (or this process's part); none when it would list nothing and none exists yet,
    so a run where every file failed leaves nothing that blocks the corrected rerun."""
    if rows or target.exists():
        _write_rows(target, rows.values())
    if world == 1:
        for part in out.glob(".manifest.*.csv"):  # left by an earlier multi-process run, now merged
            part.unlink(missing_ok=True)
