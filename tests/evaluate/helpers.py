"""Helpers for the evaluation tests: small 16-bit PNG folders."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def smooth_image(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A smooth random image in [0, 1] (sum of a few Gaussian blobs)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size))
    for _ in range(4):
        cy, cx, s = rng.random(3)
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (0.02 + 0.1 * s))
    return img / img.max()


def save_png16(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(image, 0, 1) * 65535).astype(np.uint16)).save(path)
    return path


def write_manifest(folder: Path, header: list[str], rows: list[list[str]]) -> None:
    with (folder / "manifest.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def make_dataset(root: Path, n: int = 6, size: int = 64, seed: int = 0, noise: float = 0.05,
                 subjects: int = 3) -> tuple[Path, Path]:
    """A prepared-style HR folder (manifest with subject column) and an SR folder (manifest id,input,output)."""
    rng = np.random.default_rng(seed)
    ref, pred = root / "ref", root / "pred"
    ref_rows, pred_rows = [], []
    for i in range(n):
        ident = f"case_{i:02d}"
        hr = smooth_image(rng, size)
        save_png16(ref / "hr" / f"{ident}.png", hr)
        save_png16(pred / f"{ident}.png", hr + noise * rng.standard_normal(hr.shape))
        ref_rows.append([ident, "synthetic", "0", f"subj{i % subjects}", "valid", f"hr/{ident}.png", ""])
        pred_rows.append([ident, f"lr/{ident}.png", f"{ident}.png"])
    write_manifest(ref, ["id", "source", "slice", "subject", "split", "hr", "lr"], ref_rows)
    write_manifest(pred, ["id", "input", "output"], pred_rows)
    return pred, ref




def build_identity_autoencoder(**config):
    """Factory of an exact identity autoencoder (latent = image); a real zoo.Autoencoder, for mapping tests."""
    from zoo.autoencoders.base import Autoencoder

    class IdentityAutoencoder(Autoencoder):
        in_channels = config.get("in_channels", 1)
        latent_channels = in_channels
        downsample_factor = 1

        def posterior(self, x):
            return x, x.new_zeros(x.shape)

        def decode_latent(self, z):
            return z

    return IdentityAutoencoder()
