"""The initial noise of a banded SR call (:mod:`zoo.ops.bands`): drawn once per image for the whole latent,
as :meth:`SRPipeline.sample` draws it, and handed to each band and flip/rotation as its own part."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zoo.ops.bands import frame_rows

__all__ = ["BandNoise"]


class BandNoise:
    """Noise of a whole latent of ``latent`` (height, width) and ``channels``, per seed and transform shape,
    read band by band (:meth:`at`, then :meth:`batch`): the same values a whole-image call draws."""

    def __init__(self, channels: int, latent: tuple[int, int], device: torch.device) -> None:
        self.channels, self.latent, self.device = channels, latent, device
        self.rows = (0, latent[0])
        self._drawn: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

    def at(self, rows: tuple[int, int]) -> BandNoise:
        """Read latent rows ``rows`` (of the untransformed image) from now on; returns ``self``."""
        self.rows = rows
        return self

    def whole(self, seed: int, shape: tuple[int, ...]) -> torch.Tensor:
        """The whole-latent noise of one image with ``seed`` (C x H x W, as :func:`zoo.samplers.noise.randn`)."""
        key = (seed, shape)
        if key not in self._drawn:
            generator = torch.Generator("cpu").manual_seed(seed)
            self._drawn[key] = torch.randn(shape, generator=generator, dtype=torch.float32)
        return self._drawn[key]

    def batch(self, seeds: Sequence[int], ks: Sequence[int]) -> torch.Tensor:
        """The band's noise for a batch of the transforms ``ks`` of images with ``seeds`` (transform-major)."""
        h, w = self.latent
        parts = []
        for k in ks:
            shape = (self.channels, h, w) if k < 4 else (self.channels, w, h)
            r, c = frame_rows(k, (h, w), self.rows)
            parts += [self.whole(seed, shape)[:, r, c] for seed in seeds]
        return torch.stack(parts).to(self.device, torch.float32)
