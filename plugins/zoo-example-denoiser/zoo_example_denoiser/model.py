"""A residual conv denoiser behind zoo's ``Denoiser`` protocol: ``forward(x_t, t, cond) -> x0``."""

from __future__ import annotations

import math

import torch
from torch import nn

from zoo.denoisers.base import Denoiser


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of int64 training timesteps (B,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.cos(), angles.sin()], dim=1)


class Block(nn.Module):
    """Two GroupNorm -> SiLU -> conv layers (the first shifted by the timestep embedding), added to the input."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(8, width), nn.GroupNorm(8, width)
        self.conv1, self.conv2 = nn.Conv2d(width, width, 3, padding=1), nn.Conv2d(width, width, 3, padding=1)
        self.time = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        out = self.conv1(torch.nn.functional.silu(self.norm1(h))) + self.time(emb)[:, :, None, None]
        return h + self.conv2(torch.nn.functional.silu(self.norm2(out)))


class ResNetDenoiser(Denoiser):
    """``cat[x_t, cond]`` (2C channels) -> ``depth`` residual blocks -> C channels; fully convolutional."""

    def __init__(self, latent_channels: int, prediction_type: str, width: int, depth: int, config: dict) -> None:
        super().__init__(latent_channels, prediction_type, size_multiple=1, config=config)
        self.width = width
        self.embed = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.stem = nn.Conv2d(2 * latent_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(Block(width) for _ in range(depth))
        self.head = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, latent_channels, 3, padding=1))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self.check_inputs(x_t, cond)
        emb = self.embed(timestep_embedding(t, self.width))
        h = self.stem(torch.cat([x_t, cond], dim=1))
        for block in self.blocks:
            h = block(h, emb)
        return self.head(h)


def build(latent_channels: int = 4, sample_size: int = 64, prediction_type: str = "x0", width: int = 32,
          depth: int = 2) -> ResNetDenoiser:
    """The factory. zoo passes ``latent_channels``, ``sample_size`` (the latent side at the pipeline's HR size;
    unused here: the network is fully convolutional) and ``prediction_type`` besides the card's config;
    ``config`` records them all, so a saved pipeline rebuilds the same network."""
    config = {"latent_channels": latent_channels, "sample_size": sample_size, "prediction_type": prediction_type,
              "width": width, "depth": depth}
    return ResNetDenoiser(latent_channels, prediction_type, width, depth, config)
