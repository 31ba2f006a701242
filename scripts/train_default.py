#!/usr/bin/env python
"""Reproduce zoo's embedded default (``make weights``): the first stage, then the default SR pipeline.

1. The first stage ``zoo-s2d-f4`` is a lossless space-to-depth autoencoder (f4, 16 latent channels; no
   training): it is written as a saved-autoencoder folder. Learned KL autoencoders trainable here reconstruct
   the held-out scans below bicubic (``configs/demo-autoencoder.yaml``; zoo/assets/weights/README.md).
2. ``configs/demo-denoiser.yaml``: train the residual UNet on its latents (1-step x0 prediction, L2,
   conditioned on the latent of the bicubic-upsampled LR); the pipeline folder becomes
   ``zoo/assets/default_pipeline/`` (what ``zoo sr`` and ``zoo demo`` use), and its ``vae/`` holds the
   ``zoo-s2d-f4`` weights file the card points to.
3. Report PSNR/SSIM of the default pipeline and of bicubic on the held-out test split, per modality.

Run from anywhere; runs live in ``--runs`` (default ``runs/default`` in the repository) and resume if
interrupted.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _mean(records: list[dict], key: str) -> float:
    return sum(r[key] for r in records) / len(records)


def per_modality(records: list[dict]) -> str:
    """Mean PSNR/SSIM of zoo and bicubic per modality of the bundled samples (samples.csv)."""
    from zoo.data.samples import sample_dir

    with (sample_dir() / "samples.csv").open(newline="") as fh:
        modality = {row["subject"]: row["modality"] for row in csv.DictReader(fh)}
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(modality.get(r["subject"], "?"), []).append(r)
    lines = ["modality  n  PSNR zoo  PSNR bicubic  SSIM zoo  SSIM bicubic  worst dPSNR"]
    for name, rs in sorted(groups.items()):
        worst = min(r["psnr_zoo"] - r["psnr_bicubic"] for r in rs)
        psnr = f"{_mean(rs, 'psnr_zoo'):8.2f}  {_mean(rs, 'psnr_bicubic'):12.2f}"
        ssim = f"{_mean(rs, 'ssim_zoo'):8.4f}  {_mean(rs, 'ssim_bicubic'):12.4f}"
        lines.append(f"{name:<8} {len(rs):>2}  {psnr}  {ssim}  {worst:+11.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs/default", help="folder of the training runs (relative: to the repo)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from zoo.assets import ASSETS_DIR, DEFAULT_PIPELINE_DIR, ZOO_S2D_F4
    from zoo.autoencoders.loading import save_autoencoder
    from zoo.factory import build_autoencoder
    from zoo.folders.atomic import atomic_dir
    from zoo.train.config import load_config
    from zoo.train.loop import train

    torch.set_num_threads(args.threads)
    os.chdir(ROOT)  # the configs' relative paths (runs/...) are relative to the repository
    runs = Path(args.runs)
    progress = not args.no_progress
    start = time.time()
    first_stage = runs / "autoencoder"
    if not first_stage.is_dir():
        save_autoencoder(build_autoencoder(ZOO_S2D_F4, pretrained=False), first_stage)
    cfg = load_config(ROOT / "configs" / "demo-denoiser.yaml",
                      {"output": str(runs / "denoiser"), "pipeline.vae": str(first_stage)})
    result = train(cfg, resume=True, progress=progress)
    with atomic_dir(DEFAULT_PIPELINE_DIR) as tmp:
        shutil.copytree(result, tmp, dirs_exist_ok=True)
        for path in [Path(tmp), *Path(tmp).rglob("*")]:  # package data: readable by every user
            path.chmod(0o755 if path.is_dir() else 0o644)
    print(f"zoo: default pipeline -> {DEFAULT_PIPELINE_DIR.relative_to(ROOT)} ({(time.time() - start) / 60:.1f} min)")

    from zoo.evaluate.demo import evaluate_default, format_summary

    summary = evaluate_default()
    print(format_summary(summary))
    print(per_modality(summary.records))
    size = sum(p.stat().st_size for p in ASSETS_DIR.rglob("*") if p.is_file())
    print(f"zoo: zoo/assets holds {size / 1e6:.1f} MB; make weights took {(time.time() - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
