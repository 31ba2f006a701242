"""3-level Haar wavelet band errors (paper §2.6) and a scale-free variant.

Bands follow the paper's labels: ``LL3``, then ``LH/HL/HH`` for levels 3, 2, 1, where pywt's
``(cH, cV, cD)`` are labelled ``(LH, HL, HH)``. Level 1 is the finest.

* :func:`band_psnr`: the paper's definition, ``10·log10(max|HR band|² / MSE_band)`` with the
  band's own peak (100 if MSE < 1e-12, 0 if the HR band is all ~0). The per-band peak makes bands
  incomparable with each other and with pixel PSNR (§6.9).
* :func:`band_errors`: band MSE and relative energy error ``Σ(SR−HR)² / ΣHR²`` (preferred).
"""

from __future__ import annotations

import math

import numpy as np
import pywt

LEVELS = 3


def band_names(levels: int = LEVELS) -> list[str]:
    """``['LL3', 'LH3', 'HL3', 'HH3', 'LH2', ..., 'HH1']`` for ``levels`` = 3."""
    names = [f"LL{levels}"]
    for level in range(levels, 0, -1):
        names += [f"LH{level}", f"HL{level}", f"HH{level}"]
    return names


def haar_bands(image: np.ndarray, levels: int = LEVELS) -> dict[str, np.ndarray]:
    """The Haar coefficients of ``image`` by band name (``pywt.wavedec2``, mode symmetric)."""
    coeffs = pywt.wavedec2(np.asarray(image, np.float64), "haar", level=levels)
    bands = {f"LL{levels}": coeffs[0]}
    for level, (ch, cv, cd) in zip(range(levels, 0, -1), coeffs[1:], strict=True):
        bands.update({f"LH{level}": ch, f"HL{level}": cv, f"HH{level}": cd})
    return bands


def band_psnr(pred: np.ndarray, ref: np.ndarray, levels: int = LEVELS) -> dict[str, float]:
    """The paper's per-band PSNR (peak = max |HR coefficient| of that band)."""
    out = {}
    ref_bands = haar_bands(ref, levels)
    for name, p in haar_bands(pred, levels).items():
        r = ref_bands[name]
        err = float(np.mean((p - r) ** 2))
        peak = float(np.max(np.abs(r)))
        if peak < 1e-12:
            out[name] = 0.0
        elif err < 1e-12:
            out[name] = 100.0
        else:
            out[name] = 10.0 * math.log10(peak**2 / err)
    return out


def band_errors(pred: np.ndarray, ref: np.ndarray, levels: int = LEVELS) -> dict[str, dict[str, float]]:
    """Per band: ``mse`` and ``rel_energy_error`` = Σ(SR−HR)²/ΣHR² (NaN when the HR band has no energy)."""
    out = {}
    ref_bands = haar_bands(ref, levels)
    for name, p in haar_bands(pred, levels).items():
        r = ref_bands[name]
        sq = float(np.sum((p - r) ** 2))
        energy = float(np.sum(r**2))
        out[name] = {"mse": sq / r.size, "rel_energy_error": sq / energy if energy > 0 else math.nan}
    return out
