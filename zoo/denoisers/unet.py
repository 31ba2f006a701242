"""The paper's denoiser: diffusers ``UNet2DModel`` conditioned by channel concatenation."""

from __future__ import annotations

from typing import Any

import torch
from diffusers import UNet2DModel

from zoo.denoisers.base import Denoiser

__all__ = ["PRESETS", "ConcatUNet", "build_unet", "unet_block_types"]

PRESETS: dict[str, dict[str, Any]] = {
    # latent-sr 03_train_diffusion.py: (128, 256, 512, 512) x 2 layers, attention at 16x16, GroupNorm(32).
    "paper": {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "attention_resolutions": (16,)},
    # the CPU experiment of reference/experiments.md (4.2 M parameters at 4 latent channels).
    "small": {"block_out_channels": (64, 128, 128), "layers_per_block": 1, "attention_resolutions": ()},
    "tiny": {"block_out_channels": (32, 32), "layers_per_block": 1, "attention_resolutions": (), "norm_num_groups": 8},
}


def unet_block_types(sample_size: int, levels: int, attention_resolutions: tuple[int, ...]) -> tuple[list, list]:
    """Down and up block types: level ``i`` works at ``sample_size / 2**i`` and attends there if listed.

    For the paper at 64x64 latents: down [Down, Down, AttnDown, Down], up [Up, AttnUp, Up, Up];
    at 32x32: down [Down, AttnDown, Down, Down], up [Up, Up, AttnUp, Up].
    """
    attn = [sample_size // 2**i in attention_resolutions for i in range(levels)]
    down = ["AttnDownBlock2D" if a else "DownBlock2D" for a in attn]
    up = ["AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)]
    return down, up


class ConcatUNet(Denoiser):
    """``UNet2DModel(cat[x_t, cond], t)`` with ``2C`` input and ``C`` output channels."""

    def __init__(self, unet: UNet2DModel, latent_channels: int, prediction_type: str, config: dict[str, Any]) -> None:
        levels = len(unet.config.block_out_channels)
        super().__init__(latent_channels, prediction_type, 2 ** (levels - 1), config)
        self.unet = unet

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self.check_inputs(x_t, cond)
        return self.unet(torch.cat([x_t, cond], dim=1), t).sample


def build_unet(
    preset: str = "paper",
    latent_channels: int = 4,
    sample_size: int = 64,
    prediction_type: str = "x0",
    **overrides: Any,
) -> ConcatUNet:
    """A concat-conditioned UNet for ``latent_channels`` latents of (nominal) size ``sample_size``.

    ``preset``: ``paper``, ``small`` or ``tiny``; ``overrides`` change preset values
    (``block_out_channels``, ``layers_per_block``, ``attention_resolutions``, ``norm_num_groups``)
    or pass other ``UNet2DModel`` arguments. The block layout follows ``sample_size`` (see
    :func:`unet_block_types`); the network itself runs at any multiple of its size multiple.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown unet preset {preset!r}; available: {', '.join(PRESETS)}")
    config = {"preset": preset, "latent_channels": latent_channels, "sample_size": sample_size,
              "prediction_type": prediction_type, **overrides}
    arch = {**PRESETS[preset], **overrides}
    blocks = tuple(arch.pop("block_out_channels"))
    attention = tuple(arch.pop("attention_resolutions"))
    down, up = unet_block_types(sample_size, len(blocks), attention)
    unet = UNet2DModel(
        sample_size=sample_size, in_channels=2 * latent_channels, out_channels=latent_channels,
        block_out_channels=blocks, down_block_types=down, up_block_types=up, **arch,
    )
    return ConcatUNet(unet, latent_channels, prediction_type, config)
