"""A lossless space-to-depth autoencoder: the latent of an image is its ``f x f`` pixel patches as channels.

``encode`` is ``pixel_unshuffle`` (an ``f x f`` patch of a ``C``-channel image becomes ``C·f²`` latent
channels), ``decode`` is ``pixel_shuffle``: the reconstruction is exact, so a latent SR model on top of it
has no autoencoder ceiling (learned KL autoencoders of the size a CPU can train in minutes reconstruct
below bicubic upsampling; see zoo/assets/weights/README.md). The posterior is a point mass (the
log-variance is a fixed, very small value). Its one tensor is a fixed per-channel gain (ones; the identity),
which gives the module a dtype and device like any autoencoder and a weights file like any card.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from zoo.autoencoders.base import Autoencoder

__all__ = ["PatchAutoencoder", "build_patch_autoencoder"]

LOGVAR = math.log(1e-8)  # a near-deterministic posterior: sampling adds noise of std 1e-4


class PatchAutoencoder(Autoencoder):
    """``f x f`` space-to-depth encoder and depth-to-space decoder (exact inverse of each other)."""

    receptive_radius = 0  # a latent pixel is its own f x f block of pixels: tiles need no extra context

    def __init__(self, in_channels: int = 1, factor: int = 4) -> None:
        super().__init__(None)
        if in_channels < 1 or factor < 1:
            raise ValueError(f"in_channels and factor must be >= 1, got {in_channels} and {factor}")
        self.in_channels = int(in_channels)
        self.downsample_factor = int(factor)
        self.latent_channels = self.in_channels * self.downsample_factor**2
        self.gain = nn.Parameter(torch.ones(self.latent_channels), requires_grad=False)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = F.pixel_unshuffle(x, self.downsample_factor) * self.gain[:, None, None].to(x)
        return mean, torch.full_like(mean, LOGVAR)

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(z / self.gain[:, None, None].to(z), self.downsample_factor)


def build_patch_autoencoder(in_channels: int = 1, factor: int = 4) -> PatchAutoencoder:
    """Factory of patch-autoencoder cards (``config``: ``in_channels``, ``factor``)."""
    return PatchAutoencoder(in_channels=in_channels, factor=factor)
