"""Radial power spectrum (paper §2.7): mean log10 power in 10 equal radial-frequency bins.

``r = sqrt(((x−W//2)/W)² + ((y−H//2)/H)²)`` on the centred spectrum ``|fftshift(fft2(img))|²``;
bins split ``[0, r_max)`` half-open, so the single ``r_max`` pixel is dropped, as in the paper.
The spectrum error of a prediction is its profile minus the reference's profile (per bin, in log10
power; positive = too much power at that frequency).
"""

from __future__ import annotations

import numpy as np

BINS = 10


def radial_profile(image: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Mean ``log10(power + 1e-12)`` per radial bin, low to high frequency."""
    image = np.asarray(image, np.float64)
    h, w = image.shape
    power = np.abs(np.fft.fftshift(np.fft.fft2(image))) ** 2
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt(((xx - w // 2) / w) ** 2 + ((yy - h // 2) / h) ** 2)
    edges = np.linspace(0.0, r.max(), bins + 1)
    which = np.digitize(r, edges) - 1  # bin i holds edges[i] <= r < edges[i+1]; r_max falls out
    logp = np.log10(power + 1e-12)
    return np.array([logp[which == i].mean() if np.any(which == i) else np.nan for i in range(bins)])


def spectrum_error(pred: np.ndarray, ref: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Per-bin log10-power difference ``profile(pred) − profile(ref)``."""
    return radial_profile(pred, bins) - radial_profile(ref, bins)
