#!/usr/bin/env python
"""PSNR gain over PIL-exact bicubic of saved pipelines on the held-out split and on images unlike training.

For each pipeline folder, one run (``self_ensemble=1``) and its default ensemble (8): the held-out test
split (mean, worst image, per modality CR / CT / MR / US), the val image, and synthetic HR images of
256² downsampled 4x by PIL-exact Lanczos: smooth low-count "SPECT" phantoms (5 and 100 counts at the
peak, Poisson, Gaussian-blurred), a smooth gradient, a disc blurred with sigma 3 px, a 16-px
checkerboard. Used for the tables of zoo/assets/weights/README.md (do no harm on unfamiliar scans).

    python scripts/synthetic_report.py zoo/assets/default_pipeline [OTHER_PIPELINE ...]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma)
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma * sigma))
    k = k / k.sum()
    return F.conv2d(F.pad(x, (r, r, r, r), mode="reflect"), (k[:, None] * k[None])[None, None])


def synthetic_images() -> dict[str, torch.Tensor]:
    """The 256² HR test images in [0, 1]."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 256), torch.linspace(0, 1, 256), indexing="ij")
    images = {}
    blobs = torch.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05) + 0.5 * torch.exp(
        -((xx - 0.3) ** 2 + (yy - 0.6) ** 2) / 0.005)
    for counts in (5, 100):
        hr = _gaussian_blur(torch.poisson(blobs * counts, generator=torch.Generator().manual_seed(0))[None, None], 2.0)
        images[f"SPECT {counts}"] = ((hr - hr.min()) / (hr.max() - hr.min()))[0, 0]
    images["gradient"] = 0.1 + 0.8 * (0.6 * xx + 0.4 * yy)
    disc = (((xx - 0.5) ** 2 + (yy - 0.5) ** 2) < 0.09).float()
    images["blurred disc"] = 0.2 + 0.6 * _gaussian_blur(disc[None, None], 3.0)[0, 0]
    squares = (torch.arange(256)[:, None] // 16 + torch.arange(256)[None] // 16) % 2
    images["checkerboard"] = 0.2 + 0.6 * squares.float()
    return images


def gain(pipe, lr: torch.Tensor, hr: torch.Tensor, self_ensemble: int) -> float:
    """PSNR of the pipeline's SR minus that of PIL-exact bicubic, against ``hr``."""
    from zoo.evaluate.metrics import psnr
    from zoo.ops.resample import bicubic_upsample

    sr = pipe(lr, seed=0, progress=False, self_ensemble=self_ensemble)[0, 0].double().numpy()
    ref = hr.double().numpy()
    return psnr(sr, ref) - psnr(bicubic_upsample(lr, 4).clamp(0, 1)[0, 0].double().numpy(), ref)


def report(folder: str) -> list[str]:
    import zoo
    from zoo.data.pngio import load_unit
    from zoo.evaluate.heldout import held_out
    from zoo.ops.consistency import lanczos_downsample

    def pair(item):
        return (torch.from_numpy(load_unit(item.lr).astype("float32"))[None, None],
                torch.from_numpy(load_unit(item.hr).astype("float32")))

    pipe = zoo.load_pipeline(folder)
    synthetic = [(lanczos_downsample(hr[None, None], 4).clamp(0, 1), hr) for hr in synthetic_images().values()]
    rows = []
    for count in (1, 8):
        by_modality: dict[str, list[float]] = {}
        for item in held_out("test"):
            by_modality.setdefault(item.modality, []).append(gain(pipe, *pair(item), count))
        every = [v for values in by_modality.values() for v in values]
        cells = [f"{np.mean(every):+.2f} ({min(every):+.2f})",
                 " / ".join(f"{np.mean(by_modality[m]):+.2f}" for m in ("CR", "CT", "MR", "US") if m in by_modality)]
        cells += [f"{gain(pipe, *pair(item), count):+.2f}" for item in held_out("val")]
        cells += [f"{gain(pipe, lr, hr, count):+.2f}" for lr, hr in synthetic]
        rows.append(f"| {folder}, self_ensemble {count} | " + " | ".join(cells) + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipelines", nargs="+", help="saved pipeline folders")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    names = list(synthetic_images())
    print("| pipeline | test mean (worst) | CR / CT / MR / US | val | " + " | ".join(names) + " |")
    print("|---" * (4 + len(names)) + "|")
    for folder in args.pipelines:
        print("\n".join(report(folder)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
