"""One SR run of the viewer, through ``zoo sr``'s own functions: plan the job, guard the output, run it,
read the files it wrote back (same readers), and keep the arrays the panels show."""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError

__all__ = ["Engine", "RunSettings", "ViewError", "ViewResult", "private_scratch"]


class ViewError(ZooError, ValueError):
    """Something the page's user can fix (a bad file, an option, an existing output): one line on the page."""


@dataclass(frozen=True)
class RunSettings:
    """The page's options, spelled as ``zoo sr``'s (None: the pipeline's default)."""

    pipeline: str | None = None  # None: the embedded default; a folder, an export or hf:OWNER/REPO
    tile: int | str = "auto"
    self_ensemble: int | None = None
    steps: int | None = None
    seed: int = 0
    backend: str | None = None
    device: str = "cpu"


@dataclass
class ViewResult:
    """What one run shows: arrays in the file's value units, stacked as S x H x W (x C) (one slice for a 2D image)."""

    source: Path
    output: Path
    uncertainty: Path | None
    scale: int
    lr: np.ndarray
    sr: np.ndarray
    uncertainty_map: np.ndarray | None
    hr: np.ndarray | None
    window: tuple[float, float] | None  # the DICOM VOI LUT window (centre, width), when the file has one
    modality: str | None = None
    notes: list[str] = field(default_factory=list)


def _stack(image: Any) -> np.ndarray:
    """S x H x W (x C) view of a MedicalImage's array."""
    return image.array if image.is_volume else image.array[None]


def _first(value: Any) -> Any:
    """The first of a DICOM multi-valued element, or the value itself."""
    from pydicom.multival import MultiValue

    return value[0] if isinstance(value, MultiValue | list | tuple) else value


def _voi_window(image: Any) -> tuple[float, float] | None:
    """The first (WindowCenter, WindowWidth) of a DICOM, in the modality-LUT units zoo reads."""
    ds = image.extra.get("dataset") if image.format == "dicom" else None
    if ds is None or "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    try:
        centre, width = (float(_first(v)) for v in (ds.WindowCenter, ds.WindowWidth))
    except (TypeError, ValueError):
        return None
    return (centre, width) if width > 0 else None


class Engine:
    """Loads pipelines (once per pipeline/backend) and runs one file at a time as ``zoo sr`` would.

    ``out``: the ``--out`` folder (locked by the command), outputs go there under ``zoo sr``'s rules
    (no overwrite without ``overwrite``); without it each run writes into its own folder under ``scratch``.
    """

    def __init__(self, scratch: Path, out: Path | None = None, overwrite: bool = False,
                 references: dict[Path, Path] | None = None) -> None:
        self.scratch = scratch
        self.out = out
        self.overwrite = overwrite
        self.references = references or {}
        self._pipes: dict[tuple[str | None, str | None, str], Any] = {}
        self._lock = threading.Lock()

    def pipeline(self, settings: RunSettings) -> Any:
        """The loaded pipeline of ``settings`` (cached); a load failure is one line (:class:`ViewError`)."""
        from zoo.assets import DEFAULT_PIPELINE_DIR
        from zoo.pipeline.build import load_pipeline
        from zoo.pipeline.hub import is_hub_spec

        key = (settings.pipeline, settings.backend, settings.device)
        if key not in self._pipes:
            spec = settings.pipeline
            folder = spec if is_hub_spec(spec) else Path(spec) if spec else DEFAULT_PIPELINE_DIR
            try:
                self._pipes[key] = load_pipeline(folder, device=settings.device, backend=settings.backend)
            except (ZooError, OSError, ValueError, RuntimeError, LookupError, ImportError) as err:
                raise ViewError(f"{folder}: cannot load the pipeline: {' '.join(str(err).split())}") from None
        return self._pipes[key]

    def can_estimate_uncertainty(self, pipe: Any, settings: RunSettings) -> bool:
        """Whether the run can give an uncertainty map (self-ensemble 2, 4 or 8, as ``zoo sr --uncertainty``)."""
        from zoo.ops.uncertainty import UncertaintyError, check_estimable

        count = settings.self_ensemble if settings.self_ensemble is not None else int(pipe.options.self_ensemble)
        try:
            check_estimable(count, 1)
        except UncertaintyError:
            return False
        return True

    def run(self, source: Path, settings: RunSettings, progress: bool = True) -> ViewResult:
        """Super-resolve ``source`` with :func:`zoo.data.sr_files.run_jobs` and read the outputs back."""
        from zoo.data.sr_files import SROptions, plan_jobs, read_volume, run_jobs

        pipe = self.pipeline(settings)
        try:
            pipe.tile_plan((1 << 16, 1 << 16), None if settings.tile == "auto" else settings.tile)
        except ZooError as err:
            raise ViewError(f"tile {settings.tile}: {err}") from None
        uncertainty = self.can_estimate_uncertainty(pipe, settings)
        with self._lock:  # one run at a time writes into --out (the page queues runs anyway)
            out = self.out if self.out is not None else Path(tempfile.mkdtemp(prefix="run-", dir=self.scratch))
            jobs, errors = plan_jobs([str(source)], out)
            if not jobs:
                raise ViewError(f"{source.name}: {errors[0][1] if errors else 'not a supported file'}")
            self._check(jobs, source, uncertainty)
            options = SROptions(seed=settings.seed, steps=settings.steps, tile=None if settings.tile == "auto"
                                else settings.tile, self_ensemble=settings.self_ensemble,
                                pipeline_id=str(settings.pipeline or "zoo-default"), progress=progress,
                                uncertainty=uncertainty)
            failed: list[str] = []
            run_jobs(pipe, jobs, out, options,
                     on_error=lambda path, reason: failed.append(f"{Path(path).name}: {reason}"))
            if failed:
                raise ViewError(failed[0])
        job = jobs[0]
        image = read_volume(source)
        written = read_volume(job.output, image.extra.get("slice_axis", "auto"))
        umap = read_volume(job.uncertainty, image.extra.get("slice_axis", "auto")) if uncertainty else None
        return ViewResult(
            source=source, output=job.output, uncertainty=job.uncertainty if uncertainty else None,
            scale=int(pipe.scale), lr=_stack(image), sr=_stack(written),
            uncertainty_map=None if umap is None else _stack(umap), hr=self._reference(source, image, pipe.scale),
            window=_voi_window(image), modality=image.modality,
        )

    def _check(self, jobs: list, source: Path, uncertainty: bool) -> None:
        """``zoo sr``'s output guard (never onto an input, --out writable), and no output replaced without
        ``overwrite``. Unlike one ``zoo sr`` run, the page adds files to --out run after run: manifest.csv
        gains their rows and does not block the next file."""
        from zoo.data.sr_files import OutputGuardError, check_outputs

        try:
            check_outputs(jobs, jobs[0].output.parent, [str(source)], resume=True, uncertainty=uncertainty)
        except OutputGuardError as err:
            raise ViewError(f"{err}; nothing written") from None
        job = jobs[0]
        existing = [p for p in (job.output, job.uncertainty if uncertainty else None) if p and p.exists()]
        if existing and not self.overwrite:
            raise ViewError(f"--out {job.output.parent} already holds {existing[0].name}: start zoo view with "
                            "--overwrite to replace outputs; nothing written")

    def _reference(self, source: Path, image: Any, scale: int) -> np.ndarray | None:
        """The HR reference of ``source`` (``--ref`` or a prepared folder's hr/), when it has the SR's shape."""
        from zoo.data.sr_files import read_volume

        ref = self.references.get(source.resolve())
        if ref is None:
            return None
        hr = _stack(read_volume(ref, image.extra.get("slice_axis", "auto")))
        lr = _stack(image)
        return hr if hr.shape[1:3] == (lr.shape[1] * scale, lr.shape[2] * scale) and len(hr) == len(lr) else None


def private_scratch() -> Path:
    """A private (0700) temporary folder for uploads and --out-less outputs, removed by the command at exit."""
    return Path(tempfile.mkdtemp(prefix=f"zoo-view-{os.getpid()}-"))
