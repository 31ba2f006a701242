"""diffusers ``AutoencoderKL`` behind zoo's :class:`~zoo.autoencoders.base.Autoencoder` protocol."""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderKL

from zoo.autoencoders.base import Autoencoder
from zoo.cards import AutoencoderCard


def build_autoencoder_kl(**config: Any) -> AutoencoderKL:
    """Factory of the built-in cards: a randomly initialised ``AutoencoderKL`` from its config.

    Overriding only ``block_out_channels`` with another length resizes uniform block-type lists.
    """
    n = len(config.get("block_out_channels", ()))
    for key in ("down_block_types", "up_block_types"):
        types = config.get(key)
        if n and types and len(types) != n and len(set(types)) == 1:
            config[key] = [types[0]] * n
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

    def _run(self, fn, x: torch.Tensor) -> torch.Tensor:
        """Run ``fn`` in the VAE's own dtype with autocast off (VAEs overflow under fp16 autocast)."""
        dtype = self.vae.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            return fn(x.to(dtype))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist = self._run(lambda v: self.vae.encode(v).latent_dist, x)
        return dist.mean.to(x.dtype), dist.logvar.to(x.dtype)

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self._run(lambda v: self.vae.decode(v).sample, z).to(z.dtype)


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
