#!/usr/bin/env python
"""Reproduce zoo's embedded default (``make weights``): the demo VAE, then the default SR pipeline.

1. ``configs/demo-autoencoder.yaml``: train ``zoo-demo-f4`` from scratch on the bundled train split
   (48 px crops), then ``configs/demo-autoencoder-finetune.yaml``: continue on 64 px crops. Its
   weights become ``zoo/assets/weights/zoo-demo-f4.safetensors`` (the card's ``zoo-asset:`` source).
2. ``configs/demo-denoiser.yaml``: train the small residual UNet on that VAE's latents; the pipeline
   folder becomes ``zoo/assets/default_pipeline/`` (what ``zoo sr`` and ``zoo demo`` use).
3. Report PSNR/SSIM of the default pipeline and of bicubic on the held-out test split.

Run from anywhere; runs live in ``--runs`` (default ``runs/default`` in the repository) and resume if
interrupted. On a busy CPU, one torch thread per process is usually faster than two (``--threads``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs/default", help="folder of the training runs (relative: to the repo)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--skip-autoencoder", action="store_true", help="keep the packaged VAE weights")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from zoo.assets import ASSETS_DIR, DEFAULT_PIPELINE_DIR, ZOO_DEMO_F4, asset_path
    from zoo.atomic import atomic_dir, atomic_path
    from zoo.train.config import load_config
    from zoo.train.loop import train

    torch.set_num_threads(args.threads)
    os.chdir(ROOT)  # the configs' relative paths (runs/...) are relative to the repository
    runs = Path(args.runs)
    progress = not args.no_progress
    if not args.skip_autoencoder:
        cfg = load_config(ROOT / "configs" / "demo-autoencoder.yaml", {"output": str(runs / "autoencoder")})
        stage1 = train(cfg, resume=True, progress=progress)
        cfg = load_config(ROOT / "configs" / "demo-autoencoder-finetune.yaml",
                          {"output": str(runs / "autoencoder-finetune"), "autoencoder.name": str(stage1)})
        result = train(cfg, resume=True, progress=progress)
        target = asset_path(ZOO_DEMO_F4.weights.removeprefix("zoo-asset:"))
        with atomic_path(target) as tmp:
            shutil.copyfile(result / "autoencoder.safetensors", tmp)
        print(f"zoo: VAE weights -> {target.relative_to(ROOT)}")
    cfg = load_config(ROOT / "configs" / "demo-denoiser.yaml", {"output": str(runs / "denoiser")})
    result = train(cfg, resume=True, progress=progress)
    with atomic_dir(DEFAULT_PIPELINE_DIR) as tmp:
        shutil.copytree(result, tmp, dirs_exist_ok=True)
        for path in [Path(tmp), *Path(tmp).rglob("*")]:  # package data: readable by every user
            path.chmod(0o755 if path.is_dir() else 0o644)
    print(f"zoo: default pipeline -> {DEFAULT_PIPELINE_DIR.relative_to(ROOT)}")

    from zoo.demo import evaluate_default, format_summary

    summary = evaluate_default()
    print(format_summary(summary))
    size = sum(p.stat().st_size for p in ASSETS_DIR.rglob("*") if p.is_file())
    print(f"zoo: zoo/assets holds {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
