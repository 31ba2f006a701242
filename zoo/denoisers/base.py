"""The :class:`Denoiser` protocol: ``forward(x_t, t, cond) -> raw output`` for concat-conditioned latent SR."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo.samplers.parameterization import PREDICTION_TYPES

__all__ = ["Denoiser"]


class Denoiser(nn.Module):
    """A latent SR denoiser seen by zoo.

    ``forward(x_t, t, cond)``: ``x_t`` and ``cond`` are B x ``latent_channels`` x H x W (the noisy
    latent and the conditioning latent at the same size), ``t`` an int64 tensor (B,) of training
    timesteps (t = 0 least noisy). It returns the raw prediction of type ``prediction_type``
    (``x0``, ``eps`` or ``v``). H and W must be multiples of ``size_multiple``.

    ``config`` holds the factory keyword arguments that rebuild this architecture (saved with a pipeline).
    """

    latent_channels: int
    prediction_type: str
    size_multiple: int

    def __init__(self, latent_channels: int, prediction_type: str, size_multiple: int, config: dict[str, Any]) -> None:
        super().__init__()
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
        self.latent_channels = int(latent_channels)
        self.prediction_type = prediction_type
        self.size_multiple = int(size_multiple)
        self.config = dict(config)

    def check_inputs(self, x_t: torch.Tensor, cond: torch.Tensor) -> None:
        """Raise a clear ``ValueError`` on wrong channels or sizes."""
        c, m = self.latent_channels, self.size_multiple
        for what, z in (("x_t", x_t), ("cond", cond)):
            if z.ndim != 4 or z.shape[1] != c:
                raise ValueError(f"{type(self).__name__}: {what} must be B x {c} x H x W, got {tuple(z.shape)}")
        if x_t.shape != cond.shape:
            raise ValueError(f"x_t {tuple(x_t.shape)} and cond {tuple(cond.shape)} must have the same shape")
        h, w = x_t.shape[-2:]
        if h % m or w % m:
            raise ValueError(f"{type(self).__name__}: latent size {h}x{w} must be a multiple of {m}")
