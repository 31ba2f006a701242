"""The :class:`Autoencoder` protocol every zoo autoencoder implements."""

from __future__ import annotations

import torch
from torch import nn

from zoo.cards import AutoencoderCard


class Autoencoder(nn.Module):
    """Any autoencoder seen by zoo (KL, VQ or deterministic): ``encode`` images in [-1, 1] to latents,
    ``decode`` back.

    Subclasses implement :meth:`posterior` (mean and log-variance of q(z | x); a deterministic model returns
    a log-variance of -inf) and :meth:`decode_latent`, and set ``in_channels``, ``latent_channels`` and
    ``downsample_factor``. A local autoencoder (convolutions only: no GroupNorm statistics or attention over
    the image) may set ``receptive_radius``: the latent pixels around a latent pixel that its encoding and
    its decoding read (the larger of the two); tiled SR then adds it to the denoiser's tile margin.
    """

    in_channels: int
    latent_channels: int
    downsample_factor: int
    receptive_radius: int | None = None

    def __init__(self, card: AutoencoderCard | None = None) -> None:
        """Subclasses call ``super().__init__()`` and take only architecture arguments; zoo attaches the
        registered ``card`` after the factory returns (``card`` here is for direct construction)."""
        super().__init__()
        self.card = card

    @property
    def name(self) -> str:
        return self.card.name if self.card is not None else type(self).__name__

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x) for ``x`` in [-1, 1]."""
        raise NotImplementedError

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        """Decode a latent without geometry checks."""
        raise NotImplementedError

    def check_geometry(self, x: torch.Tensor, channels: int, what: str) -> None:
        """Raise a clear ``ValueError`` if ``x`` is not B x channels x H x W with H, W multiples of f."""
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(
                f"{self.name}: {what} must be B x {channels} x H x W, got shape {tuple(x.shape)}"
            )
        if what == "image":
            f = self.downsample_factor
            h, w = x.shape[-2:]
            if h % f or w % f:
                raise ValueError(
                    f"{self.name}: image size {h}x{w} is not a multiple of the downsample factor {f}; "
                    f"pad or crop to e.g. {max(f, h // f * f)}x{max(f, w // f * f)}"
                )

    def encode(
        self, x: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Latent of ``x`` (B x in_channels x H x W in [-1, 1]): the posterior mode, or a sample."""
        self.check_geometry(x, self.in_channels, "image")
        mean, logvar = self.posterior(x)
        if not sample:
            return mean
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + torch.exp(0.5 * logvar) * noise

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Image for latent ``z`` (nominally in [-1, 1], not clamped)."""
        self.check_geometry(z, self.latent_channels, "latent")
        return self.decode_latent(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``decode(encode(x))`` through the posterior mode."""
        return self.decode(self.encode(x))
