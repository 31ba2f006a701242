"""Hallucination and loss rates (paper §2.8).

Per image, a noise floor ``τ = mean(|AE−HR|) + 2·std(|AE−HR|)`` (ddof 0) comes from an
autoencoder reconstruction ``AE`` of the HR image. With ``D = SR − HR``:
``hallu_rate = mean(D > τ)``, ``loss_rate = mean(D < −τ)``, and the magnitudes are the mean
``D`` / ``|D|`` over those pixels (0 when there are none). The paper applied MedVAE's floor to
every method, which favours MedVAE-like errors (§6.9): pass a VAE-independent ``tau`` (a fixed
value) or each method's own reconstruction to avoid that.
"""

from __future__ import annotations

import math

import numpy as np


def noise_floor(ae: np.ndarray, ref: np.ndarray) -> float:
    """``τ = mean(|AE−HR|) + 2·std(|AE−HR|)`` (population std)."""
    diff = np.abs(np.asarray(ae, np.float64) - np.asarray(ref, np.float64))
    return float(diff.mean() + 2.0 * diff.std())


def hallucination(pred: np.ndarray, ref: np.ndarray, tau: float) -> dict[str, float]:
    """Rates and magnitudes of pixels brighter (hallucinated) or darker (lost) than HR by more than τ."""
    d = np.asarray(pred, np.float64) - np.asarray(ref, np.float64)
    over, under = d > tau, d < -tau
    return {
        "hallu_rate": float(over.mean()),
        "loss_rate": float(under.mean()),
        "hallu_magnitude": float(d[over].mean()) if over.any() else 0.0,
        "loss_magnitude": float(np.abs(d[under]).mean()) if under.any() else 0.0,
    }


def cohens_h(p1: float, p2: float) -> float:
    """Cohen's h between two proportions: ``2·asin(√p1) − 2·asin(√p2)``."""
    return 2.0 * math.asin(math.sqrt(p1)) - 2.0 * math.asin(math.sqrt(p2))
