"""Helpers of the training and CLI tests (no pytest fixtures here, so both packages can import them)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image


def smooth_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random 'scan': a few Gaussian blobs on a gradient, in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.2 + 0.3 * xx
    for _ in range(4):
        cy, cx, s, a = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.25), rng.uniform(0.2, 0.6)
        img = img + a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return np.clip(img / img.max(), 0, 1)


def make_prepared(root: Path, n_train: int, n_val: int, size: int = 32, scale: int = 4, seed: int = 0) -> Path:
    """Write a prepared dataset folder (manifest.csv, hr/, lr/, prepare.json) like `zoo prepare` does."""
    rng = np.random.default_rng(seed)
    (root / "hr").mkdir(parents=True, exist_ok=True)
    (root / "lr").mkdir(exist_ok=True)
    rows = []
    for i in range(n_train + n_val):
        split = "train" if i < n_train else "val"
        ident = f"img{i:03d}"
        hr = Image.fromarray((smooth_image(rng, size) * 255).round().astype(np.uint8))
        hr.save(root / "hr" / f"{ident}.png")
        hr.resize((size // scale, size // scale), Image.BICUBIC).save(root / "lr" / f"{ident}.png")
        rows.append({"id": ident, "source": f"synthetic/{ident}", "slice": 0, "subject": ident, "split": split,
                     "hr": f"hr/{ident}.png", "lr": f"lr/{ident}.png"})
    with (root / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (root / "prepare.json").write_text(json.dumps({"scale": scale, "hr_size": size}))
    return root


def tiny_autoencoder_config(prepared: Path, output: Path, **optim) -> dict:
    """A config of a few-step autoencoder run on the tiny zoo-demo-f4 architecture (narrowed further)."""
    return {
        "task": "autoencoder",
        "output": str(output),
        "seed": 3,
        "data": {"root": str(prepared), "crop": 16, "max_val": 2},
        "optim": {"max_steps": 4, "batch_size": 2, "lr": 1e-3, "val_every": 2, "ckpt_every": 2, "log_every": 1,
                  "ema": 0.9, **optim},
        "autoencoder": {
            "name": "zoo-demo-f4",
            "pretrained": False,
            "config": {"block_out_channels": [8, 8, 16], "norm_num_groups": 4},
            "card": {"name": "tiny-ae"},
        },
    }


def tiny_denoiser_config(prepared: Path, vae: Path, output: Path, **optim) -> dict:
    """A config of a few-step denoiser run: a tiny UNet on a saved (tiny) autoencoder folder."""
    return {
        "task": "denoiser",
        "output": str(output),
        "seed": 5,
        "data": {"root": str(prepared), "crop": 16, "max_val": 2, "flips": False},
        "optim": {"max_steps": 3, "batch_size": 2, "lr": 1e-3, "val_every": 3, "ckpt_every": 3, "log_every": 1,
                  **optim},
        "pipeline": {
            "vae": str(vae),
            "denoiser": "unet",
            "denoiser_config": {"preset": "tiny"},
            "sampler": "ddim",
            "steps": 2,
            "conditioning": "bicubic-latent",
            "residual": True,
            "hr_size": 32,
        },
    }
