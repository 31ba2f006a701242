"""Per-image fidelity metrics on float images in [0, 1] (data range 1), as in paper §2.

* :func:`psnr`: ``10·log10(1 / MSE)`` over all pixels (``inf`` for identical images).
* :func:`ssim`: scikit-image-compatible SSIM (defaults: 7×7 uniform window, sample covariance;
  ``gaussian=True``: 11×11 Gaussian σ=1.5, population covariance). Returns the mean, or the map.
* :func:`ms_ssim`: torchmetrics MS-SSIM with the paper's defaults (Gaussian 11, σ 1.5, 5 scales).
  Images too small for 5 scales (torchmetrics needs H, W > 160) use the largest number of scales
  that fits, with the first betas renormalised to sum to 1; :func:`ms_ssim_scales` says how many,
  and reports record it. Below 2 scales the value is NaN.
* :func:`masked_psnr`, :func:`masked_ssim`: the paper's ROI metrics (§2.10).
* :func:`lpips`: torchmetrics LPIPS-alex on gray→RGB; needs torchvision and local weights.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from zoo.errors import ZooError

MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_KERNEL = 11


def _check_pair(pred: np.ndarray, ref: np.ndarray) -> None:
    if pred.shape != ref.shape:
        raise ValueError(f"image shapes differ: prediction {pred.shape} vs reference {ref.shape}")


def mse(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean squared error over all pixels."""
    _check_pair(pred, ref)
    return float(np.mean((np.asarray(pred, np.float64) - np.asarray(ref, np.float64)) ** 2))


def psnr_from_mse(value: float) -> float:
    """PSNR in dB for data range 1; ``inf`` when the error is exactly zero."""
    return math.inf if value == 0 else 10.0 * math.log10(1.0 / value)


def psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    """PSNR in dB of one image pair (data range 1)."""
    return psnr_from_mse(mse(pred, ref))


def ssim(pred: np.ndarray, ref: np.ndarray, gaussian: bool = False, full: bool = False) -> float | np.ndarray:
    """SSIM as ``skimage.metrics.structural_similarity(data_range=1)`` computes it.

    ``gaussian=True`` matches ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``.
    ``full=True`` returns the SSIM map instead of its mean over the valid (border-cropped) area.
    """
    _check_pair(pred, ref)
    x = np.asarray(pred, np.float64)
    y = np.asarray(ref, np.float64)
    if gaussian:
        win = 11

        def smooth(a: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")

        cov_norm = 1.0
    else:
        win = 7

        def smooth(a: np.ndarray) -> np.ndarray:
            return ndimage.uniform_filter(a, size=win, mode="reflect")

        cov_norm = win**2 / (win**2 - 1)
    if min(x.shape) < win:
        raise ValueError(f"SSIM needs images of at least {win}x{win}, got {x.shape}")
    ux, uy = smooth(x), smooth(y)
    vx = cov_norm * (smooth(x * x) - ux * ux)
    vy = cov_norm * (smooth(y * y) - uy * uy)
    vxy = cov_norm * (smooth(x * y) - ux * uy)
    c1, c2 = 0.01**2, 0.03**2
    smap = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    if full:
        return smap
    pad = (win - 1) // 2
    return float(smap[pad:-pad, pad:-pad].mean())


def ms_ssim_scales(height: int, width: int, kernel: int = MS_SSIM_KERNEL) -> int:
    """Largest number of MS-SSIM scales (≤ 5) torchmetrics accepts for an H×W image."""
    for scales in range(len(MS_SSIM_BETAS), 0, -1):
        if min(height, width) > (kernel - 1) * 2 ** (scales - 1):
            return scales
    return 0


def ms_ssim(pred: np.ndarray, ref: np.ndarray, scales: int | None = None) -> float:
    """MS-SSIM (torchmetrics, data range 1, paper defaults); fewer scales for small images, NaN below 2."""
    import torch
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    _check_pair(pred, ref)
    scales = ms_ssim_scales(*pred.shape[-2:]) if scales is None else scales
    if scales < 2:
        return math.nan
    betas = MS_SSIM_BETAS[:scales]
    betas = tuple(b / sum(betas) for b in betas) if scales < len(MS_SSIM_BETAS) else betas
    as_tensor = [torch.from_numpy(np.ascontiguousarray(a, np.float64))[None, None] for a in (pred, ref)]
    value = multiscale_structural_similarity_index_measure(
        *as_tensor, data_range=1.0, kernel_size=MS_SSIM_KERNEL, sigma=1.5, betas=betas, normalize="relu"
    )
    return float(value)


def _mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(mask) > 0.5
    if mask.shape != shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image shape {shape}")
    return mask


def masked_psnr(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> float:
    """PSNR over the mask's pixels (mask > 0.5); NaN for an empty mask."""
    _check_pair(pred, ref)
    inside = _mask(mask, pred.shape)
    if not inside.any():
        return math.nan
    return psnr_from_mse(float(np.mean((pred[inside] - ref[inside]) ** 2)))


def masked_ssim(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray, border: int = 7) -> float:
    """SSIM map (skimage defaults) on the mask's bounding box plus ``border`` px, averaged over the mask."""
    _check_pair(pred, ref)
    inside = _mask(mask, pred.shape)
    if not inside.any():
        return math.nan
    rows, cols = np.nonzero(inside)
    r0, r1 = max(rows.min() - border, 0), min(rows.max() + border + 1, pred.shape[0])
    c0, c1 = max(cols.min() - border, 0), min(cols.max() + border + 1, pred.shape[1])
    box = (slice(r0, r1), slice(c0, c1))
    if min(r1 - r0, c1 - c0) < 7:
        return math.nan
    smap = ssim(pred[box], ref[box], full=True)
    return float(smap[inside[box]].mean())


class LPIPSUnavailableError(ZooError, RuntimeError):
    """LPIPS cannot run here (torchvision or the AlexNet/LPIPS weights are missing)."""


ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"


def lpips_metric():
    """A torchmetrics LPIPS-alex metric (normalize=True) built only from local files; never downloads.

    Needs torchvision and the AlexNet weights already in the torch hub cache
    (``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth``); the LPIPS heads ship with torchmetrics.
    """
    import importlib.util
    from pathlib import Path

    import torch

    if importlib.util.find_spec("torchvision") is None:
        raise LPIPSUnavailableError(
            "LPIPS needs torchvision (the build matching your torch) and locally cached AlexNet weights; "
            "torchvision is not installed, so LPIPS is skipped"
        )
    weights = Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_WEIGHTS
    if not weights.is_file():
        raise LPIPSUnavailableError(f"LPIPS needs the AlexNet weights at {weights}; zoo never downloads them")
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    return LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True)


def lpips(pred: np.ndarray, ref: np.ndarray, metric=None) -> float:
    """LPIPS-alex of one gray pair replicated to RGB (paper §2.4)."""
    import torch

    _check_pair(pred, ref)
    metric = metric or lpips_metric()
    as_rgb = [torch.from_numpy(np.ascontiguousarray(a, np.float32))[None, None].expand(1, 3, -1, -1)
              for a in (pred, ref)]
    return float(metric(*as_rgb))
