"""Quality against speed: mean PSNR against sampler steps on held-out images, per sampler.

For each sampler, SR runs at every step count of ``steps`` (seeded, so runs differ only by the step
count); the largest count is the reference (1000: the paper's K), and the report gives the fewest
steps whose mean PSNR is no more than ``tolerance_db`` (0.1 dB) below the reference's.
PSNR is the paper's: whole image, data range 1, SR clipped to [0, 1].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.bench.target import BenchError
from zoo.weights import folder_fingerprint

SAMPLERS = ("ddim", "dpmpp-2m", "ddpm", "cold")
TOLERANCE_DB = 0.1


def default_quality_data() -> Path | None:
    """The bundled held-out images (a prepared dataset folder) if the package ships them."""
    import zoo.assets as assets

    prepared = assets.ASSETS_DIR / "samples" / "prepared"  # written by scripts/make_samples.py
    if (prepared / "manifest.csv").is_file():
        return prepared
    return next((p.parent for p in sorted(assets.ASSETS_DIR.rglob("manifest.csv"))), None)


def held_out_pairs(data: str | Path, split: str = "test", limit: int | None = None) -> tuple[list[str], torch.Tensor,
                                                                                             torch.Tensor]:
    """ids, LR and HR images (B x 1 x h x w in [0, 1]) of one split of a prepared dataset, paired by id."""
    from zoo.data.manifest import filter_split, read_manifest
    from zoo.data.pngio import load_unit

    root = Path(data)
    records = filter_split(read_manifest(root), split) or filter_split(read_manifest(root), "val")
    if not records:
        raise BenchError(f"{root}: no '{split}' (or 'val') images in manifest.csv for --quality")
    records = sorted(records, key=lambda r: r.id)
    if limit is not None and limit < len(records):  # evenly spaced, so every held-out subject is represented
        records = [records[i] for i in sorted(set(np.linspace(0, len(records) - 1, limit).round().astype(int)))]
    lr = [load_unit(root / r.lr) for r in records]
    hr = [load_unit(root / r.hr) for r in records]
    if len({a.shape for a in lr}) != 1 or len({a.shape for a in hr}) != 1:
        raise BenchError(f"{root}: held-out images differ in size; --quality needs one size")
    stack = lambda arrays: torch.from_numpy(np.stack(arrays))[:, None]  # noqa: E731
    return [r.id for r in records], stack(lr), stack(hr)


def mean_psnr(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """Mean over images of the whole-image PSNR (data range 1, SR clipped to [0, 1])."""
    from zoo.evaluate.metrics import psnr

    sr = sr.float().clamp(0, 1).cpu().numpy()
    hr = hr.float().cpu().numpy()
    return float(np.mean([psnr(s[0], h[0]) for s, h in zip(sr, hr, strict=True)]))


def fewest_within(steps: Sequence[int], psnrs: Sequence[float], tolerance_db: float) -> int | None:
    """Fewest steps whose PSNR is at most ``tolerance_db`` below that of the largest step count."""
    reference = psnrs[list(steps).index(max(steps))]
    ok = [k for k, p in zip(steps, psnrs, strict=True) if p >= reference - tolerance_db]
    return min(ok) if ok else None


def quality_curve(pipe: Any, lr: torch.Tensor, hr: torch.Tensor, sampler: str, steps: Sequence[int],
                  seed: int = 0, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """PSNR and seconds per step count for one sampler."""
    from zoo.factory import build_sampler

    run = build_sampler(sampler)
    psnrs, seconds = [], []
    for k in steps:
        if log:
            log(f"{sampler}, {k} steps")
        start = time.perf_counter()
        sr = pipe(lr.to(pipe.device), seed=seed, steps=k, sampler=run, progress=False)
        seconds.append(round(time.perf_counter() - start, 3))
        psnrs.append(round(mean_psnr(sr, hr), 4))
    return {"sampler": sampler, "psnr_db": psnrs, "seconds": seconds,
            "fewest_steps_within_tol": fewest_within(steps, psnrs, TOLERANCE_DB)}


def quality_report(cfg: Any, device: str, log: Callable[[str], None] | None = None,
                   samplers: Sequence[str] = SAMPLERS, data: str | Path | None = None) -> dict[str, Any]:
    """The ``quality`` section: PSNR against steps for each sampler on the held-out images."""
    import zoo
    from zoo.evaluate.report import shown_path

    if cfg.vae:
        raise BenchError("--quality needs a trained pipeline (the embedded default or --pipeline DIR), not --vae")
    data = data or getattr(cfg, "quality_data", None) or default_quality_data()
    if data is None:
        raise BenchError("--quality: no bundled held-out images found in zoo/assets")
    if cfg.pipeline:
        folder, name = Path(cfg.pipeline), str(cfg.pipeline)
    else:
        from zoo.assets import DEFAULT_PIPELINE_DIR

        folder, name = DEFAULT_PIPELINE_DIR, "embedded default pipeline"
    pipe = zoo.load_pipeline(folder, device=device, backend="torch")
    ids, lr, hr = held_out_pairs(data, limit=cfg.quality_images)
    steps = sorted(set(cfg.quality_steps))
    curves = [quality_curve(pipe, lr, hr, s, steps, cfg.seed, log) for s in samplers]
    return {
        "pipeline": name, "pipeline_sha256": folder_fingerprint(folder), "data": shown_path(Path(data)),
        "images": len(ids),
        "ids": ids,
        "steps": steps,
        "reference_steps": max(steps), "tolerance_db": TOLERANCE_DB, "samplers": curves,
    }
