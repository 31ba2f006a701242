"""The SR pipeline's API edge: user images (any dtype and range) <-> float [0, 1] tensors and back.

``intensity`` comes from the autoencoder card: ``"minmax"`` maps each image's own min..max to
[0, 1] (MedVAE); ``"fixed"`` maps a fixed range: [0, 1] for floats already in it, the full range of
``uint8``/``uint16``, and otherwise falls back to the image's min..max. The output goes back through
the same map to the input's range, dtype and layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["EdgeFormat", "array_from_unit", "array_to_unit", "tensor_from_unit", "tensor_to_unit"]


@dataclass(frozen=True)
class EdgeFormat:
    """How one image came in: its value range mapped to [0, 1], dtype and layout (``HW``, ``HWC``, ``CHW``)."""

    lo: float
    hi: float
    dtype: np.dtype | torch.dtype
    layout: str

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        span = self.hi - self.lo
        return (x - self.lo) / span if span > 0 else torch.zeros_like(x)

    def from_unit(self, y: torch.Tensor) -> torch.Tensor:
        return y * (self.hi - self.lo) + self.lo


def _range(x: np.ndarray | torch.Tensor, intensity: str) -> tuple[float, float]:
    lo, hi = float(x.min()), float(x.max())
    if intensity == "minmax":
        return lo, hi
    if intensity != "fixed":
        raise ValueError(f"intensity must be 'minmax' or 'fixed', got {intensity!r}")
    if isinstance(x, np.ndarray) and x.dtype in (np.uint8, np.uint16):
        return 0.0, float(np.iinfo(x.dtype).max)
    if isinstance(x, np.ndarray) and x.dtype == np.bool_:
        return 0.0, 1.0
    if lo >= 0 and hi <= 1 and (isinstance(x, torch.Tensor) or np.issubdtype(x.dtype, np.floating)):
        return 0.0, 1.0
    return lo, hi


def array_to_unit(arr: np.ndarray, intensity: str) -> tuple[torch.Tensor, EdgeFormat]:
    """A 2D (H x W) or channels-last (H x W x C, C <= 4) array -> 1 x C x H x W float32 in [0, 1]."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        layout, chw = "HW", arr[None]
    elif arr.ndim == 3 and arr.shape[-1] <= 4:
        layout, chw = "HWC", np.moveaxis(arr, -1, 0)
    else:
        raise ValueError(f"expected an H x W or H x W x C (C <= 4) image array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
        raise ValueError(f"expected a numeric image array, got dtype {arr.dtype}")
    if not np.isfinite(chw).all():
        raise ValueError("image array holds NaN or infinite values")
    lo, hi = _range(arr, intensity)
    fmt = EdgeFormat(lo, hi, arr.dtype, layout)
    x = torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float64))[None]
    return fmt.to_unit(x).float().clamp(0, 1), fmt


def array_from_unit(y: torch.Tensor, fmt: EdgeFormat) -> np.ndarray:
    """1 x C x H x W in [0, 1] -> an array in ``fmt``'s range, dtype (rounded and clipped for ints) and layout."""
    out = fmt.from_unit(y[0].detach().double().cpu()).numpy()
    if fmt.layout == "HW":
        out = out[0]
    else:
        out = np.moveaxis(out, 0, -1)
    dtype = np.dtype(fmt.dtype)
    if dtype == np.bool_:
        return out >= 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(dtype)
    return out.astype(dtype)


def tensor_to_unit(x: torch.Tensor, intensity: str) -> tuple[torch.Tensor, list[EdgeFormat]]:
    """A float B x C x H x W tensor in [0, 1] -> float32 [0, 1] (per-image min-max for ``minmax``) and formats."""
    if not torch.is_floating_point(x) or x.ndim != 4:
        raise ValueError(f"lr must be a float tensor B x C x h x w in [0, 1], got {x.dtype} of shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("lr holds NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        raise ValueError(
            f"lr tensor values must lie in [0, 1], got {lo:.4g}..{hi:.4g}; pass numpy arrays for other ranges"
        )
    formats = [EdgeFormat(*_range(img, intensity), x.dtype, "CHW") for img in x]
    unit = torch.stack([f.to_unit(img.double()) for f, img in zip(formats, x, strict=True)])
    return unit.float(), formats


def tensor_from_unit(y: torch.Tensor, formats: list[EdgeFormat]) -> torch.Tensor:
    """Inverse of :func:`tensor_to_unit`: each image back to its range, in the input's dtype."""
    return torch.stack([f.from_unit(img.double()).to(f.dtype) for f, img in zip(formats, y, strict=True)])
