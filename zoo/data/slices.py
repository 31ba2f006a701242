"""Which slices of a volume to use: ``middle``, ``all``, or the paper's BraTS rule."""

from __future__ import annotations

import random

import numpy as np

SLICE_RULES = ("middle", "all", "brats")


def brats_slices(volume: np.ndarray, n: int = 20, seed: int = 42) -> list[int]:
    """The paper's BraTS rule on a slices-first volume (D x H x W).

    Candidates z in [int(0.25 D), int(0.75 D)); keep slices with ``max > mean + std``;
    ``random.Random(seed).sample(valid, n)`` (the same seed for every subject, as the paper did),
    sorted. Returns the real slice indices (the paper named files by rank 00-19 instead).
    If fewer than ``n`` slices qualify, all of them are returned.
    """
    depth = volume.shape[0]
    candidates = range(int(0.25 * depth), int(0.75 * depth))
    valid = []
    for z in candidates:
        s = volume[z].astype(np.float64)
        if s.max() > s.mean() + s.std():
            valid.append(z)
    if len(valid) <= n:
        return valid
    return sorted(random.Random(seed).sample(valid, n))


def select_slices(volume: np.ndarray, rule: str = "middle", n: int = 20, seed: int = 42) -> list[int]:
    """Slice indices of a slices-first volume by ``rule`` (one of :data:`SLICE_RULES`)."""
    depth = volume.shape[0]
    if rule == "middle":
        return [depth // 2]
    if rule == "all":
        return list(range(depth))
    if rule == "brats":
        return brats_slices(volume, n=n, seed=seed)
    raise ValueError(f"unknown slice rule {rule!r}; choose from {', '.join(SLICE_RULES)}")
