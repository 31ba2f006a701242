"""Which slices of a volume to use: the slice axis of a NIfTI volume (its acquisition plane), and ``middle``,
``all``, or the paper's BraTS rule along it."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

SLICE_RULES = ("middle", "all", "brats")
SLICE_AXES = ("auto", 0, 1, 2)
SPACING_TIE = 1e-4  # relative: voxel sizes this close count as equal


def acquisition_slice_axis(spacing: Sequence[float], shape: Sequence[int]) -> int:
    """The slice axis of a 3D voxel grid: the other two (the finest) form the acquisition plane.

    An axis of length 1 (a single slice) is the slice axis; else the axis of the largest voxel size.
    Ties go to the last such array axis, so an isotropic volume is sliced along axis 2 (as before).
    """
    single = [a for a in range(3) if shape[a] == 1]
    if single and len(single) < 3:
        return single[-1]
    largest = max(float(s) for s in spacing[:3])
    return [a for a in range(3) if float(spacing[a]) >= largest * (1.0 - SPACING_TIE)][-1]


def parse_slice_axis(value: int | str) -> int | str:
    """``"auto"`` or a voxel axis 0/1/2 (int or digit string); a clear ``ValueError`` for anything else."""
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text in ("0", "1", "2") and not isinstance(value, bool):
        return int(text)
    raise ValueError(f"slice axis must be auto, 0, 1 or 2, got {value!r}")


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
