"""What the viewer's panels show: window/level presets, 8-bit display images at one zoom, differences, metrics."""

from __future__ import annotations

import numpy as np

__all__ = ["CT_PRESETS", "MIN_MAX", "VOI", "display_image", "nearest_zoom", "bicubic", "window_for",
           "presets_for", "difference", "metrics_line"]

MIN_MAX = "min-max"
VOI = "DICOM VOI LUT"
# (centre, width) in Hounsfield units
CT_PRESETS: dict[str, tuple[float, float]] = {
    "CT brain": (40.0, 80.0),
    "CT subdural": (75.0, 215.0),
    "CT lung": (-600.0, 1500.0),
    "CT mediastinum": (50.0, 350.0),
    "CT abdomen": (50.0, 400.0),
    "CT bone": (400.0, 1800.0),
}


def presets_for(modality: str | None, voi: tuple[float, float] | None) -> list[str]:
    """The window presets that apply: min-max, the file's VOI LUT window if any, CT presets for CT."""
    return [MIN_MAX] + ([VOI] if voi else []) + (list(CT_PRESETS) if modality == "CT" else [])


def window_for(preset: str, reference: np.ndarray, voi: tuple[float, float] | None) -> tuple[float, float]:
    """(low, high) display bounds of ``preset``; min-max is the reference's (the LR's) finite range."""
    if preset == VOI and voi:
        centre, width = voi
    elif preset in CT_PRESETS:
        centre, width = CT_PRESETS[preset]
    else:
        finite = reference[np.isfinite(reference)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        return (lo, hi if hi > lo else lo + 1.0)
    return (centre - width / 2.0, centre + width / 2.0)


def display_image(array: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """An 8-bit image of ``array`` (H x W or H x W x C) under the window ``(low, high)``."""
    lo, hi = window
    scaled = (np.asarray(array, np.float64) - lo) / max(hi - lo, 1e-12)
    return np.round(np.clip(np.nan_to_num(scaled), 0.0, 1.0) * 255.0).astype(np.uint8)


def nearest_zoom(array: np.ndarray, scale: int) -> np.ndarray:
    """``array`` (H x W or H x W x C) enlarged ``scale`` times by pixel repetition (the LR as it is)."""
    return np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)


def bicubic(array: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic enlargement zoo compares against (:func:`zoo.ops.resample.bicubic_upsample`), in the
    array's own units (float64)."""
    import torch

    from zoo.ops.resample import bicubic_upsample

    x = torch.from_numpy(np.asarray(array, np.float64))
    x = x.permute(2, 0, 1)[None] if x.ndim == 3 else x[None, None]
    up = bicubic_upsample(x, scale)[0]
    return (up.permute(1, 2, 0) if array.ndim == 3 else up[0]).numpy()


def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| per pixel, float64."""
    return np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))


def metrics_line(sr: np.ndarray, bic: np.ndarray, hr: np.ndarray) -> str:
    """PSNR/SSIM of SR and of bicubic against HR (zoo.evaluate.metrics), all scaled by HR's range to [0, 1]."""
    from zoo.evaluate.metrics import psnr, ssim

    lo, hi = float(np.min(hr)), float(np.max(hr))
    span = hi - lo if hi > lo else 1.0

    def unit(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, np.float64)
        a = a.mean(axis=-1) if a.ndim == 3 else a
        return np.clip((a - lo) / span, 0.0, 1.0)

    ref = unit(hr)
    parts = [f"{name}: PSNR {psnr(unit(x), ref):.2f} dB, SSIM {ssim(unit(x), ref):.4f}"
             for name, x in (("SR", sr), ("bicubic", bic))]
    return " | ".join(parts)
