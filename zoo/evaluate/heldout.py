"""The bundled held-out images and the methods compared on them (``zoo demo``, ``scripts/fidelity_report.py``).

Images come from a prepared folder (default: ``zoo/assets/samples/prepared``), one split of its
``manifest.csv``; the modality of each id comes from ``samples.csv`` beside it (``unknown`` where
there is none). Every method returns float64 H x W in [0, 1], the prepared images' units:

* ``zoo``: what ``zoo sr`` gives for the LR file (read, the intensity policy of
  :mod:`zoo.ops.intensity`, seed ``seed`` for every file), read back as ``zoo eval`` does (/ 65535);
* ``bicubic`` / ``lanczos``: PIL upsampling of the LR (the paper's baseline, §4.9), clipped to [0, 1];
* ``ae``: decode(encode(HR)) through the pipeline's autoencoder, the ceiling of latent SR without
  a pixel-space skip.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["HeldOut", "METHODS", "ae_ceiling", "held_out", "pick_by_modality", "upsample", "zoo_sr"]

METHODS = ("zoo", "bicubic", "lanczos", "ae")


@dataclass(frozen=True)
class HeldOut:
    """One held-out pair of a prepared folder."""

    id: str
    subject: str
    modality: str
    lr: Path
    hr: Path


def default_data() -> Path:
    """The bundled prepared samples."""
    from zoo.data.samples import prepared_samples

    return prepared_samples()


def modalities(data: Path) -> dict[str, str]:
    """``id -> modality`` from the ``samples.csv`` next to a prepared folder (empty if it has none)."""
    table = data.parent / "samples.csv"
    if not table.is_file():
        return {}
    with table.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        return {r["id"]: r["modality"] for r in csv.DictReader(fh) if r.get("id") and r.get("modality")}


def held_out(split: str = "test", data: str | Path | None = None) -> list[HeldOut]:
    """The pairs of ``split`` of a prepared folder (default: the bundled samples), sorted by id."""
    from zoo.data.manifest import filter_split, read_manifest

    root = Path(data) if data is not None else default_data()
    kinds = modalities(root)
    records = sorted(filter_split(read_manifest(root), split), key=lambda r: r.id)
    if not records:
        raise ValueError(f"{root}: no images in split {split!r}")
    return [HeldOut(r.id, r.subject, kinds.get(r.id, "unknown"), root / r.lr, root / r.hr) for r in records]


def pick_by_modality(items: Sequence[HeldOut], count: int) -> list[int]:
    """Indices of ``count`` items spread over modalities, then subjects: round robin over sorted modalities,
    each taking its next subject in turn (at least one image per modality when ``count`` allows)."""
    queues: dict[str, dict[str, list[int]]] = {}
    for i, item in enumerate(items):
        queues.setdefault(item.modality, {}).setdefault(item.subject, []).append(i)
    order: dict[str, list[int]] = {}
    for modality, subjects in queues.items():  # interleave the subjects of one modality
        lists = list(subjects.values())
        order[modality] = [lst[k] for k in range(max(map(len, lists))) for lst in lists if k < len(lst)]
    picked: list[int] = []
    while len(picked) < min(count, len(items)):
        for modality in sorted(order):
            if order[modality] and len(picked) < count:
                picked.append(order[modality].pop(0))
    return picked


def upsample(lr: np.ndarray, shape: tuple[int, int], method: str) -> np.ndarray:
    """PIL ``bicubic`` or ``lanczos`` upsampling of a [0, 1] image, clipped to [0, 1], float64."""
    from zoo.data.degradations import pil_resize

    return np.clip(pil_resize(np.asarray(lr, np.float32), shape, method), 0, 1).astype(np.float64)


def zoo_sr(pipe: Any, items: Sequence[HeldOut], seed: int = 0, batch_size: int = 8, **options: Any) -> list[np.ndarray]:
    """SR of each item's LR file as ``zoo sr`` computes it, in [0, 1] (the file's stored values / 65535);
    ``options`` (``steps``, ``sampler``) go to the pipeline call. With ``uncertainty=True`` each element is
    ``(sr, map)``, the map in the same [0, 1] units."""
    from zoo.data.readers import read_image

    out: list[Any] = []
    for start in range(0, len(items), batch_size):
        images = [read_image(item.lr) for item in items[start : start + batch_size]]
        result = pipe([im.array for im in images], seed=[seed] * len(images), progress=False, **options)
        srs, maps = result if options.get("uncertainty") else (result, None)
        for k, (image, sr) in enumerate(zip(images, srs, strict=True)):
            full = float(np.iinfo(image.array.dtype).max) if image.array.dtype.kind == "u" else 1.0
            unit = np.asarray(sr, np.float64) / full
            out.append(unit if maps is None else (unit, np.asarray(maps[k], np.float64) / full))
    return out


def ae_ceiling(pipe: Any, hr: np.ndarray) -> np.ndarray:
    """decode(encode(HR)) through the pipeline's autoencoder, in [0, 1]."""
    from zoo.evaluate.reconstruct import round_trip

    return round_trip(pipe.vae, np.asarray(hr)[None], pipe.device).recon[0]
