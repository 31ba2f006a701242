"""diffusers ``AutoencoderKL`` behind zoo's :class:`~zoo.autoencoders.base.Autoencoder` protocol."""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderKL

from zoo.autoencoders.base import Autoencoder
from zoo.cards import AutoencoderCard


def build_autoencoder_kl(**config: Any) -> AutoencoderKL:
    """Factory of the built-in cards: a randomly initialised ``AutoencoderKL`` from its config."""
    return AutoencoderKL(**config)


class KLAutoencoder(Autoencoder):
    """Adapter around a diffusers ``AutoencoderKL`` (weights live in ``self.vae``)."""

    def __init__(self, vae: AutoencoderKL, card: AutoencoderCard | None = None) -> None:
        super().__init__(card)
        self.vae = vae
        cfg = vae.config
        self.in_channels = int(cfg.in_channels)
        self.latent_channels = int(cfg.latent_channels)
        self.downsample_factor = 2 ** (len(cfg.block_out_channels) - 1)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist = self.vae.encode(x).latent_dist
        return dist.mean, dist.logvar

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z).sample


def as_autoencoder(model: Any, card: AutoencoderCard | None = None) -> Autoencoder:
    """Wrap what a factory returned: a zoo ``Autoencoder`` passes through, an ``AutoencoderKL`` is adapted."""
    if isinstance(model, Autoencoder):
        if card is not None and model.card is None:
            model.card = card
        return model
    if isinstance(model, AutoencoderKL):
        return KLAutoencoder(model, card)
    raise TypeError(
        f"autoencoder factory returned {type(model).__name__}; expected a zoo.Autoencoder or diffusers AutoencoderKL"
    )
