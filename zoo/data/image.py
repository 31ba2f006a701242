"""``MedicalImage``: pixel array plus the metadata that travels with it (source, spacing, range)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

LAYOUTS = ("HW", "HWC", "SHW", "SHWC")


@dataclass
class MedicalImage:
    """An image or volume read from a file.

    ``array`` holds the stored values after the modality transform (DICOM rescale, MONOCHROME1
    inversion), laid out as ``layout``: ``HW`` (gray), ``HWC`` (colour), ``SHW``/``SHWC`` (a stack of
    slices or frames; the slice axis comes first). ``spacing`` is in mm per array axis of one slice
    (row, column), ``slice_spacing`` along the stack. ``dtype`` and ``value_range`` describe the stored
    data before any conversion; ``extra`` carries what a writer needs to write the same format back.
    """

    array: np.ndarray
    source: str
    format: str
    layout: str
    dtype: str
    value_range: tuple[float, float]
    spacing: tuple[float, float] | None = None
    slice_spacing: float | None = None
    subject: str | None = None
    modality: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.array.ndim != len(self.layout):
            raise ValueError(f"array of shape {self.array.shape} does not match layout {self.layout}")

    @property
    def is_volume(self) -> bool:
        return self.layout.startswith("S")

    @property
    def num_slices(self) -> int:
        return self.array.shape[0] if self.is_volume else 1

    @property
    def channels(self) -> int:
        return self.array.shape[-1] if self.layout.endswith("C") else 1

    def slice(self, index: int) -> np.ndarray:
        """One 2D slice (H x W or H x W x C) of a volume, or the image itself."""
        if not self.is_volume:
            if index != 0:
                raise IndexError(f"{self.source}: a 2D image has only slice 0, not {index}")
            return self.array
        return self.array[index]

    def metadata(self) -> dict[str, Any]:
        """JSON-friendly metadata (no pixel data, no writer internals)."""
        return {
            "source": self.source,
            "format": self.format,
            "layout": self.layout,
            "shape": list(self.array.shape),
            "dtype": self.dtype,
            "value_range": [float(v) for v in self.value_range],
            "spacing": None if self.spacing is None else [float(s) for s in self.spacing],
            "slice_spacing": None if self.slice_spacing is None else float(self.slice_spacing),
            "subject": self.subject,
            "modality": self.modality,
        }


def value_range(array: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values; (nan, nan) for an array with none."""
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    if finite.size == 0:
        return (float("nan"), float("nan"))
    return (float(finite.min()), float(finite.max()))
