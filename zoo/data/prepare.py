"""``zoo prepare``: medical files -> HR/LR pairs (16-bit PNG) + manifest with subject-level splits.

Per slice: gray -> per-slice min-max to [0, 1] (original range kept in the manifest) -> centre square
crop -> HR = PIL LANCZOS(crop, size); LR = degradation(crop, size // scale), as the paper's BraTS/CXR
scripts (LR from the crop, not from the HR). Values are clipped to [0, 1] and stored as 16-bit PNG.
``paper_uint8`` reproduces the paper's 8-bit path bit for bit (uint8 truncation, PIL mode "L", 8-bit PNG).
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from zoo.data.degradations import DESCRIPTIONS, get_degradation, pil_resize
from zoo.data.errors import DataError
from zoo.data.formats import EXTENSIONS, images_in_folder, stem
from zoo.data.image import MedicalImage
from zoo.data.manifest import SPLITS, Record, safe_id, write_manifest
from zoo.data.normalize import center_square, minmax01, to_gray
from zoo.data.readers import read_image
from zoo.data.slices import select_slices
from zoo.data.splits import split_subjects
from zoo.data.writers import write_png
from zoo.folders.atomic import atomic_dir, write_text
from zoo.folders.guard import prepare_output

log = logging.getLogger(__name__)

SUBJECT_RULES = ("auto", "file", "parent")
PREPARED_FILES = ("hr", "lr", "manifest.csv", "prepare.json")  # what prepare() writes into its folder
AXES = {"axial": 2, "coronal": 1, "sagittal": 0}


@dataclass
class PrepareConfig:
    """Settings of one ``zoo prepare`` run (saved in ``prepare.json``)."""

    scale: int = 4
    size: int = 256
    degradation: str = "lanczos"
    slices: str = "middle"
    n_slices: int = 20
    slice_seed: int = 42
    axis: str = "axial"
    frame: int = 0
    subject_from: str = "auto"
    split_seed: int = 42
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    assign: dict[str, str] = field(default_factory=dict)
    max_upsample: float = 2.0
    seed: int = 0
    paper_uint8: bool = False

    def check(self) -> None:
        if self.scale < 1 or self.size < 1 or self.size % self.scale:
            raise ValueError(f"--size {self.size} must be a positive multiple of --scale {self.scale}")
        get_degradation(self.degradation)
        if self.subject_from not in SUBJECT_RULES:
            raise ValueError(f"subject rule must be one of {', '.join(SUBJECT_RULES)}, got {self.subject_from!r}")
        if self.axis not in AXES:
            raise ValueError(f"axis must be one of {', '.join(AXES)}, got {self.axis!r}")
        if self.paper_uint8 and self.degradation not in ("lanczos", "bicubic"):
            raise ValueError("--paper-uint8 works with the PIL degradations only (lanczos, bicubic)")
        bad = {s: v for s, v in self.assign.items() if v not in SPLITS}
        if bad:
            raise ValueError(f"assigned splits must be one of {', '.join(SPLITS)}: {bad}")


@dataclass
class Pair:
    """One prepared HR/LR pair before it is written."""

    id: str
    source: str
    slice: int
    subject: str
    hr: np.ndarray
    lr: np.ndarray
    orig_min: float
    orig_max: float


def collect_files(sources: list[str | os.PathLike]) -> list[Path]:
    """Files to prepare: each source file, or every image under a source folder (sorted): a supported
    extension, or DICOM by content (:func:`zoo.data.formats.images_in_folder`); the other files of a
    folder are skipped with one warning line."""
    files: list[Path] = []
    for src in sources:
        src = Path(src)
        if src.is_dir():
            found, skipped = images_in_folder(src)
            if not found:
                raise DataError(src, f"no supported image files in this folder ({', '.join(sorted(EXTENSIONS))}, "
                                "or DICOM by content)")
            if skipped:
                log.warning("%s: skipped %d file(s) that are neither a supported image type nor DICOM (e.g. %s)",
                            src, len(skipped), skipped[0].relative_to(src))
            files.extend(found)
        elif src.exists():
            files.append(src)
        else:
            raise DataError(src, "no such file or folder")
    return list(dict.fromkeys(files))


def subject_of(path: Path, image: MedicalImage, rule: str) -> str:
    if rule == "file":
        return stem(path)
    if rule == "parent":
        return path.parent.name or stem(path)
    return image.subject or stem(path)


def make_pair(image2d: np.ndarray, config: PrepareConfig, rng: np.random.Generator,
              source: str) -> tuple[np.ndarray, np.ndarray, float, float]:
    """HR and LR (float32 in [0, 1]) of one 2D slice, plus its original (min, max)."""
    gray = to_gray(image2d)
    if not np.isfinite(gray).all():
        raise DataError(source, "NaN/inf values in the slice")
    unit, lo, hi = minmax01(gray)
    crop = center_square(unit)
    side = crop.shape[0]
    lr_size = config.size // config.scale
    if side < lr_size or side * config.max_upsample < config.size:
        raise DataError(source, f"image is {gray.shape[0]}x{gray.shape[1]}: its {side}x{side} square crop is too small "
                        f"for --size {config.size} (at most {config.max_upsample:g}x upsampling); use a smaller --size")
    if config.paper_uint8:  # the paper's scripts: min-max to [0, 255] in float64, astype(uint8) (truncation), PIL "L"
        scaled = (gray - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros(gray.shape)
        crop = center_square(scaled.astype(np.uint8))
    hr = crop if side == config.size else pil_resize(crop, config.size, "lanczos")
    lr = get_degradation(config.degradation)(crop, lr_size, rng)
    if config.paper_uint8:
        return hr, lr, lo, hi
    return np.clip(hr, 0.0, 1.0), np.clip(lr, 0.0, 1.0), lo, hi


def pairs_of_file(path: Path, config: PrepareConfig) -> list[Pair]:
    """Every HR/LR pair one file gives (one per selected slice)."""
    image = read_image(path, frame=config.frame, slice_axis=AXES[config.axis])
    subject = subject_of(path, image, config.subject_from)
    if image.is_volume:
        gray_stack = image.array if image.layout == "SHW" else np.stack([to_gray(s) for s in image.array])
        indices = select_slices(gray_stack, config.slices, config.n_slices, config.slice_seed)
        if not indices:
            raise DataError(path, f"no slice passes the {config.slices!r} rule (empty volume?)")
        tag = "z" if image.format == "nifti" else "f"
    else:
        indices, tag = [0], ""
    base = safe_id(stem(path))
    pairs = []
    for index in indices:
        pid = f"{base}_{tag}{index:03d}" if tag else base
        rng = np.random.default_rng([config.seed, zlib.crc32(pid.encode())])
        hr, lr, lo, hi = make_pair(image.slice(index), config, rng, str(path))
        pairs.append(Pair(pid, str(path), index, subject, hr, lr, lo, hi))
    return pairs


def prepare(sources: list[str | os.PathLike], out: str | os.PathLike, config: PrepareConfig | None = None,
            skip_bad: bool = False, overwrite: bool = False, progress: bool = False) -> dict:
    """Prepare HR/LR pairs from ``sources`` into ``out`` (written atomically: all or nothing).

    Returns the summary saved as ``prepare.json``. A bad file raises :class:`DataError` unless
    ``skip_bad``, in which case it is listed under ``skipped``. An existing non-empty ``out`` is
    refused (:class:`zoo.folders.guard.OutputExistsError`) unless ``overwrite``; then only ``hr/``,
    ``lr/``, ``manifest.csv`` and ``prepare.json`` are replaced.
    """
    from tqdm.auto import tqdm

    config = config or PrepareConfig()
    config.check()
    out = prepare_output(out, inputs=sources, overwrite=overwrite, will_write=PREPARED_FILES)
    real_out = Path(os.path.realpath(out))
    files = [f for f in collect_files(sources)  # never this run's own output folder (a source folder may hold it)
             if real_out not in Path(os.path.realpath(f)).parents]
    pairs: list[Pair] = []
    skipped: list[dict] = []
    for path in tqdm(files, desc="prepare", unit="file", disable=not progress):
        try:
            pairs.extend(pairs_of_file(path, config))
        except DataError as err:
            if not skip_bad:
                raise
            skipped.append({"file": str(path), "reason": err.reason})
    if not pairs:
        raise DataError(out, "no image could be prepared from the sources")
    pairs = unique_ids(pairs)
    splits = split_subjects([p.subject for p in pairs], config.fractions, config.split_seed)
    splits.update({s: v for s, v in config.assign.items() if s in splits})
    records = []
    with atomic_dir(out) as tmp:
        for pair in pairs:
            rec = Record(id=pair.id, source=pair.source, slice=pair.slice, subject=pair.subject,
                         split=splits[pair.subject], hr=f"hr/{pair.id}.png", lr=f"lr/{pair.id}.png",
                         orig_min=pair.orig_min, orig_max=pair.orig_max)
            bits = 8 if config.paper_uint8 else 16
            write_png(tmp / rec.hr, pair.hr, bits=bits)
            write_png(tmp / rec.lr, pair.lr, bits=bits)
            records.append(rec)
        write_manifest(tmp / "manifest.csv", records)
        summary = summary_of(config, records, skipped)
        write_text(tmp / "prepare.json", json.dumps(summary, indent=2) + "\n")
    return summary


def unique_ids(pairs: list[Pair]) -> list[Pair]:
    """Make ids unique across files with the same stem (``-2``, ``-3``, ... in file order)."""
    seen: dict[str, int] = {}
    for pair in pairs:
        n = seen.get(pair.id, 0) + 1
        seen[pair.id] = n
        if n > 1:
            pair.id = f"{pair.id}-{n}"
    return pairs


def summary_of(config: PrepareConfig, records: list[Record], skipped: list[dict]) -> dict:
    from zoo import __version__

    per_split = {s: [r for r in records if r.split == s] for s in SPLITS}
    return {
        "zoo_version": __version__,
        "config": {**asdict(config), "fractions": list(config.fractions)},
        "hr_size": config.size,
        "lr_size": config.size // config.scale,
        "scale": config.scale,
        "degradation": {"name": config.degradation, "description": DESCRIPTIONS[config.degradation]},
        "intensity": ("paper: per-slice min-max to [0, 255], astype(uint8), 8-bit PNG" if config.paper_uint8 else
                      "per-slice min-max to [0, 1] (orig_min/orig_max in manifest.csv), clipped, 16-bit PNG"),
        "geometry": "centre square crop; HR = PIL LANCZOS(crop, size); LR = degradation(crop, size // scale)",
        "counts": {s: len(v) for s, v in per_split.items()},
        "subjects": {s: sorted({r.subject for r in v}) for s, v in per_split.items()},
        "skipped": skipped,
    }
