"""PIL-exact bicubic upsampling in torch: the paper's bicubic baseline (§4.9), on any device, in bounded memory.

PIL resizes separably; to enlarge by an integer ``factor`` each output pixel ``x`` sits at input
coordinate ``(x + 0.5) / factor`` and takes the inputs within the bicubic kernel's support (``a = -0.5``,
radius 2), dropping taps that fall outside the image and renormalising the rest. The result matches
``PIL.Image.resize(..., BICUBIC)`` of a float image to float32 precision (tested against PIL).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["bicubic_upsample", "upsample_lr"]

BICUBIC_A = -0.5  # PIL's bicubic (torch's interpolate uses -0.75)
_OFFSETS = range(-2, 3)  # input pixels q - 2 .. q + 2 around output block q


def _cubic(t: float) -> float:
    t = abs(t)
    if t < 1:
        return ((BICUBIC_A + 2) * t - (BICUBIC_A + 3)) * t * t + 1
    if t < 2:
        return (((t - 5) * t + 8) * t - 4) * BICUBIC_A
    return 0.0


def _weights(factor: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``factor`` x 5 taps: output pixel ``factor * q + r`` takes input ``q + o`` with weight ``[r, o + 2]``."""
    rows = [[_cubic(o + 0.5 - (r + 0.5) / factor) for o in _OFFSETS] for r in range(factor)]
    return torch.tensor(rows, dtype=torch.float64).to(device=device, dtype=dtype)


def _along_last(x: torch.Tensor, factor: int) -> torch.Tensor:
    weights = _weights(factor, x.dtype, x.device)
    n = x.shape[-1]

    def spread(t: torch.Tensor) -> torch.Tensor:  # ... x n -> ... x n x factor
        padded = F.pad(t, (2, 2))
        out = None
        for i in range(len(_OFFSETS)):
            term = padded[..., i : i + n, None] * weights[:, i]
            out = term if out is None else out.add_(term)
        return out

    ones = torch.ones(n, dtype=x.dtype, device=x.device)
    return spread(x).div_(spread(ones)).flatten(-2)


def bicubic_upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """B x C x h x w -> B x C x (factor h) x (factor w), as PIL's BICUBIC resize (not clipped)."""
    if factor == 1:
        return x.clone()
    return _along_last(_along_last(x, factor).transpose(-1, -2), factor).transpose(-1, -2).contiguous()


def upsample_lr(lr01, size: tuple[int, int]):
    """Bicubic upsampling of a B x C x h x w [0, 1] tensor to ``size``: the ``bicubic-latent`` conditioning
    image. The pipeline must use this same function at inference."""
    return F.interpolate(lr01, size=size, mode="bicubic", align_corners=False).clamp(0.0, 1.0)
