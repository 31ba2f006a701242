"""A deterministic (non-KL) conv autoencoder behind the ``zoo.Autoencoder`` protocol."""

from __future__ import annotations

import torch
from torch import nn

import zoo


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.SiLU())


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1), nn.SiLU())


class ConvAutoencoder(zoo.Autoencoder):
    """1-channel images in [-1, 1] <-> 8-channel latents at 1/8 of the size; no posterior variance."""

    in_channels = 1
    latent_channels = 8
    downsample_factor = 8

    def __init__(self, width: int = 16) -> None:
        super().__init__()  # zoo attaches the card after the factory returns
        w = width
        self.encoder = nn.Sequential(_down(1, w), _down(w, 2 * w), _down(2 * w, 2 * w), nn.Conv2d(2 * w, 8, 1))
        self.decoder = nn.Sequential(nn.Conv2d(8, 2 * w, 3, padding=1), nn.SiLU(),
                                     _up(2 * w, 2 * w), _up(2 * w, w), _up(w, w), nn.Conv2d(w, 1, 3, padding=1))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x): deterministic, so the log-variance is -inf (variance 0)."""
        mean = self.encoder(x)
        return mean, torch.full_like(mean, float("-inf"))

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


def build(width: int = 16) -> ConvAutoencoder:
    """The factory named by the card: ``build(**card.config, **user_overrides)``, random weights."""
    return ConvAutoencoder(width)
