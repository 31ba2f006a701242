"""Seeded Gaussian noise, one generator per image so that an image's noise does not depend on its batch."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import torch

__all__ = ["Generators", "generators_for", "randn", "seed_list"]

Generators = torch.Generator | Sequence[torch.Generator] | None


def seed_list(seed: int | Sequence[int], batch: int) -> list[int]:
    """One seed per image: ``seed + i`` for image ``i`` of an int seed, else the given seeds (one per image)."""
    seeds = [int(seed) + i for i in range(batch)] if isinstance(seed, Integral) else [int(s) for s in seed]
    if len(seeds) != batch:
        raise ValueError(f"got {len(seeds)} seeds for {batch} images")
    return seeds


def generators_for(seeds: int | Sequence[int], batch: int) -> list[torch.Generator]:
    """One CPU generator per image, seeded by :func:`seed_list`."""
    return [torch.Generator("cpu").manual_seed(s) for s in seed_list(seeds, batch)]


def randn(shape: Sequence[int], generator: Generators, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """Standard normal noise of ``shape`` (B first); a list of generators draws each image's noise separately.

    Noise is drawn in float32 on the generator's device, then moved, so a seed gives the same noise
    on every device and dtype.
    """
    shape = tuple(shape)
    if generator is None or isinstance(generator, torch.Generator):
        gen_device = generator.device if generator is not None else "cpu"
        out = torch.randn(shape, generator=generator, device=gen_device, dtype=torch.float32)
    else:
        if len(generator) != shape[0]:
            raise ValueError(f"got {len(generator)} generators for a batch of {shape[0]}")
        draws = [torch.randn(shape[1:], generator=g, device=g.device, dtype=torch.float32) for g in generator]
        out = torch.stack(draws)
    return out.to(device=device, dtype=dtype)
