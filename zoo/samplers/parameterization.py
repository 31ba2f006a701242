"""Conversions between what a denoiser predicts (x0, eps or v) and the clean-sample estimate x0.

With ``x_t = a·x0 + s·ε`` (``a = sqrt(ᾱ_t)``, ``s = sqrt(1 - ᾱ_t)``) and ``v = a·ε - s·x0``:
``x0 = (x_t - s·ε)/a`` for eps and ``x0 = a·x_t - s·v`` for v.
"""

from __future__ import annotations

import torch

__all__ = ["PREDICTION_TYPES", "output_to_x0", "training_target"]

PREDICTION_TYPES = ("x0", "eps", "v")


def _check(prediction_type: str) -> None:
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")


def output_to_x0(
    output: torch.Tensor, x_t: torch.Tensor, alpha_bar: torch.Tensor, prediction_type: str
) -> torch.Tensor:
    """x0 estimate from a denoiser ``output`` of the given type; ``alpha_bar`` broadcasts against ``x_t``."""
    _check(prediction_type)
    if prediction_type == "x0":
        return output
    a, s = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
    if prediction_type == "eps":
        return (x_t - s * output) / a
    return a * x_t - s * output


def training_target(
    x0: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor, prediction_type: str
) -> torch.Tensor:
    """What a denoiser of ``prediction_type`` should output for ``x_t = sqrt(ᾱ) x0 + sqrt(1-ᾱ) noise``."""
    _check(prediction_type)
    if prediction_type == "x0":
        return x0
    if prediction_type == "eps":
        return noise
    return alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * x0
