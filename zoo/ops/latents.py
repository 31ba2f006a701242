"""Latent-space helpers of the SR pipeline: per-channel normalization stats, resizing and padding.

Raw latents differ in scale 5-11x between VAEs (paper §6.3), so the pipeline diffuses normalized
latents ``(z - mean) / std`` with per-channel statistics measured on training HR latents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["LatentStats", "crop_to", "measure_latent_stats", "pad_to_multiple", "upsample_latent"]


@dataclass(frozen=True)
class LatentStats:
    """Per-channel mean and std (float32, shape C) of raw latents."""

    mean: torch.Tensor
    std: torch.Tensor

    def __post_init__(self) -> None:
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            shapes = f"mean {tuple(self.mean.shape)} and std {tuple(self.std.shape)}"
            raise ValueError(f"latent stats: {shapes} must both be (C,)")
        if not bool((self.std > 0).all()):
            raise ValueError("latent stats: every std must be > 0")

    @classmethod
    def identity(cls, channels: int) -> LatentStats:
        """Mean 0, std 1: no normalization (the default until stats are measured)."""
        return cls(torch.zeros(channels), torch.ones(channels))

    @property
    def channels(self) -> int:
        return int(self.mean.shape[0])

    def _view(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if z.shape[1] != self.channels:
            raise ValueError(f"latent has {z.shape[1]} channels, latent stats have {self.channels}")
        return t.to(device=z.device, dtype=z.dtype).view(1, -1, 1, 1)

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        """``(z - mean) / std`` per channel."""
        return (z - self._view(self.mean, z)) / self._view(self.std, z)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """``z * std + mean`` per channel (inverse of :meth:`normalize`)."""
        return z * self._view(self.std, z) + self._view(self.mean, z)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON view; float32 values survive the round trip through Python floats exactly."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatentStats:
        return cls(torch.tensor(data["mean"], dtype=torch.float32), torch.tensor(data["std"], dtype=torch.float32))


def measure_latent_stats(latents: Iterable[torch.Tensor]) -> LatentStats:
    """Per-channel mean and std (population) over batches of raw B x C x H x W latents, accumulated in float64."""
    count, total, total_sq = 0, None, None
    for z in latents:
        z = z.detach().to(torch.float64).transpose(0, 1).reshape(z.shape[1], -1)
        total = z.sum(1) if total is None else total + z.sum(1)
        total_sq = (z * z).sum(1) if total_sq is None else total_sq + (z * z).sum(1)
        count += z.shape[1]
    if not count:
        raise ValueError("measure_latent_stats: no latents given")
    mean = total / count
    std = (total_sq / count - mean**2).clamp_min(0).sqrt().clamp_min(1e-6)
    return LatentStats(mean.float(), std.float())


def upsample_latent(z: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (``align_corners=False``, as the paper's conditioning) to ``size``."""
    if tuple(z.shape[-2:]) == tuple(size):
        return z
    return F.interpolate(z, size=tuple(size), mode="bilinear", align_corners=False)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "replicate") -> torch.Tensor:
    """Pad the bottom and right of B x C x H x W so that H and W are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return x
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The top-left ``size`` of B x C x H x W (undoes :func:`pad_to_multiple`)."""
    return x[..., : size[0], : size[1]]
