"""A local denoiser: a residual convolution network without normalisation (EDSR-style blocks).

Every output pixel depends only on the inputs within :attr:`ResConvDenoiser.receptive_radius` latent
pixels of it: there is no GroupNorm (whose statistics span the whole input) and no attention. The
network is translation-equivariant, so its output does not depend on the image size it runs at, and
a tile whose borders lie at least that radius away from the pixels it contributes gives exactly what
the whole image gives (:meth:`zoo.pipeline.SRPipeline.tile_plan` uses the radius as the tiles'
context margin). The timestep scales and shifts the features of every block and gates the noisy
latent's input (one value per channel: still local).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo.denoisers.base import Denoiser
from zoo.denoisers.dit import timestep_embedding

__all__ = ["PRESETS", "ResConvDenoiser", "build_resconv"]

PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"width": 16, "blocks": 2},
    "small": {"width": 64, "blocks": 4},
    "base": {"width": 96, "blocks": 8},
}


class TimeResBlock(nn.Module):
    """``x + conv(act(conv(x) * (1 + scale) + shift))``, scale and shift per channel from the timestep."""

    def __init__(self, width: int, emb_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.modulation = nn.Linear(emb_dim, 2 * width)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.modulation(emb)[..., None, None].chunk(2, dim=1)
        return x + self.conv2(self.act(self.conv1(x) * (1 + scale) + shift))


class ResConvDenoiser(Denoiser):
    """``conv_out(act(blocks(conv_in(cat[gate(t) * x_t, cond]))))`` at the latent's own resolution.

    ``gate(t)`` (per channel, learned, zero at the start) decides how much of the noisy latent to read at
    each timestep: near t = T it is almost pure noise, which would otherwise drown the conditioning's
    detail in the first convolution (a network trained at t = 999 only learns nothing with it open)."""

    def __init__(self, latent_channels: int, width: int, blocks: int, prediction_type: str,
                 config: dict[str, Any]) -> None:
        super().__init__(latent_channels, prediction_type, 1, config)
        emb_dim = 4 * width
        self.width = width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.conv_in = nn.Conv2d(2 * latent_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(TimeResBlock(width, emb_dim) for _ in range(blocks))
        self.conv_out = nn.Conv2d(width, latent_channels, 3, padding=1)
        self.noisy_gate = nn.Linear(emb_dim, latent_channels)  # how much of x_t to read at t, per channel
        nn.init.zeros_(self.noisy_gate.weight)
        nn.init.zeros_(self.noisy_gate.bias)
        self.act = nn.SiLU()

    @property
    def receptive_radius(self) -> int:
        """Latent pixels on each side that an output pixel reads (one per 3x3 convolution)."""
        return 2 + 2 * len(self.blocks)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self.check_inputs(x_t, cond)
        emb = self.time_mlp(timestep_embedding(t.reshape(-1).expand(x_t.shape[0]), self.width).to(x_t.dtype))
        gate = self.noisy_gate(emb)[..., None, None]
        h = self.conv_in(torch.cat([x_t * gate, cond], dim=1))
        for block in self.blocks:
            h = block(h, emb)
        return self.conv_out(self.act(h))


def build_resconv(
    preset: str = "small",
    latent_channels: int = 4,
    sample_size: int = 64,
    prediction_type: str = "x0",
    **overrides: Any,
) -> ResConvDenoiser:
    """A local residual conv denoiser; ``preset`` ``tiny``/``small``/``base``; ``overrides``: ``width``,
    ``blocks``. ``sample_size`` is only recorded (the network runs at any size)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown resconv preset {preset!r}; available: {', '.join(PRESETS)}")
    unknown = set(overrides) - set(PRESETS[preset])
    if unknown:
        raise ValueError(f"build_resconv: unknown option(s) {sorted(unknown)}; options: {sorted(PRESETS[preset])}")
    arch = {**PRESETS[preset], **overrides}
    config = {"preset": preset, "latent_channels": latent_channels, "sample_size": sample_size,
              "prediction_type": prediction_type, **overrides}
    return ResConvDenoiser(latent_channels, int(arch["width"]), int(arch["blocks"]), prediction_type, config)
