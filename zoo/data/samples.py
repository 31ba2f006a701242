"""The bundled sample images (``zoo/assets/samples``): real, openly licensed medical images.

Layout (made by ``scripts/make_samples.py``; sources and licences in ``LICENSES.md``)::

    slices/<subject>/<id>.png   16-bit gray slices, at most 256 x 256, one folder per subject
    original/                   a few original files (DICOM, NIfTI) for format tests
    prepared/                   ``zoo prepare`` output of ``slices/`` (scale 4, 256 -> 64), split by subject
"""

from __future__ import annotations

from pathlib import Path

from zoo.data.errors import DataError

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples"


def sample_dir() -> Path:
    """Folder of the bundled samples."""
    if not SAMPLES.is_dir():
        raise DataError(SAMPLES, "bundled samples are missing (regenerate with scripts/make_samples.py)")
    return SAMPLES


def sample_paths(kind: str = "slices", subject: str | None = None) -> list[Path]:
    """Sample files, sorted: ``kind`` is ``slices`` (16-bit PNG) or ``original`` (DICOM/NIfTI);
    ``subject`` limits slices to one subject folder (e.g. ``mni152``)."""
    if kind not in ("slices", "original"):
        raise ValueError(f"kind must be 'slices' or 'original', got {kind!r}")
    base = sample_dir() / kind
    if subject is not None:
        base = base / subject
    return sorted(p for p in base.rglob("*") if p.is_file() and not p.name.startswith("."))


def prepared_samples() -> Path:
    """The prepared split of the sample slices (``manifest.csv`` + ``hr/`` + ``lr/``)."""
    path = sample_dir() / "prepared"
    if not (path / "manifest.csv").exists():
        raise DataError(path, "prepared samples are missing (regenerate with scripts/make_samples.py)")
    return path
