"""Intensity mapping and square cropping of one 2D slice."""

from __future__ import annotations

import numpy as np


def to_gray(image: np.ndarray) -> np.ndarray:
    """H x W x C colour to gray (ITU-R 601 luma, as PIL's "L"); gray passes through."""
    if image.ndim == 2:
        return image
    rgb = image[..., :3].astype(np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def minmax01(image: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Per-image min-max to [0, 1] as float32, plus the original (min, max).

    A constant image (min == max) maps to zeros, never NaN.
    """
    values = image.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(image.shape, dtype=np.float32), lo, hi
    return ((values - lo) / (hi - lo)).astype(np.float32), lo, hi


def center_square(image: np.ndarray) -> np.ndarray:
    """Centre crop to a square of the shorter side (the paper's ``center_crop_square``)."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]
