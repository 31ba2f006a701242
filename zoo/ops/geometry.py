"""The tensor shapes of one SR call: HR side -> LR side -> the encoder's input side -> latent side.

The encode-size rule lives here alone: ``lr-latent`` conditioning encodes the LR image (``hr / scale``),
``bicubic-latent`` encodes the bicubic upsampling at the HR side; latents are ``1 / f`` of an image
side (``f``: the autoencoder's downsample factor). ``SRPipeline.geometry(hr_size)`` gives a pipeline's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Geometry"]


@dataclass(frozen=True)
class Geometry:
    """Shapes of one SR call at HR side ``hr_size`` (square images)."""

    in_channels: int
    latent_channels: int
    downsample_factor: int
    hr_size: int
    scale: int
    conditioning: str = "lr-latent"

    @property
    def lr_size(self) -> int:
        return self.hr_size // self.scale

    @property
    def encode_scale(self) -> int:
        """How many times smaller than the HR image the encoder's input is (1 for ``bicubic-latent``)."""
        return 1 if self.conditioning == "bicubic-latent" else self.scale

    @property
    def encode_size(self) -> int:
        """Side of the encoder's input: the LR image, or the bicubic-upsampled one at the HR side."""
        return self.hr_size // self.encode_scale

    @property
    def latent_size(self) -> int:
        """Side of the HR latent (the denoiser's input and the decoder's)."""
        return self.hr_size // self.downsample_factor

    @property
    def encode_latent_size(self) -> int:
        return self.encode_size // self.downsample_factor

    @property
    def fits_autoencoder(self) -> bool:
        """Whether the HR side and the encoder's input side are both multiples of the autoencoder's factor."""
        f = self.downsample_factor
        return self.hr_size % f == 0 and self.encode_size % f == 0

    def hr_step(self, size_multiple: int = 1) -> int:
        """The HR sides whose encoder input is a multiple of ``f`` and whose latent is a multiple of the
        denoiser's ``size_multiple`` are the multiples of this."""
        f = self.downsample_factor
        return math.lcm(self.encode_scale * f, f * max(int(size_multiple), 1))

    def stage_inputs(self, stage: str, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Random example inputs of a network stage (``encoder``, ``denoiser``, ``decoder``) at ``batch``:
        images in [-1, 1], latents ~ N(0, 1), int64 timesteps in 0..999."""
        c, lc, h, lh = self.in_channels, self.latent_channels, self.encode_size, self.latent_size
        if stage == "encoder":
            return (torch.rand(batch, c, h, h, generator=generator) * 2 - 1,)
        if stage == "decoder":
            return (torch.randn(batch, lc, lh, lh, generator=generator),)
        x_t = torch.randn(batch, lc, lh, lh, generator=generator)
        t = torch.randint(0, 1000, (batch,), generator=generator)
        cond = torch.randn(batch, lc, lh, lh, generator=generator)
        return x_t, t, cond
