"""Fast loading of prepared 8/16-bit PNGs as float32 in [0, 1]."""

from __future__ import annotations

import os

import numpy as np

from zoo.data.errors import DataError


def load_unit(path: str | os.PathLike) -> np.ndarray:
    """A prepared gray PNG (8- or 16-bit) as float32 H x W in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            array = np.asarray(im)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataError(path, f"cannot read prepared image ({err})") from None
    if array.ndim != 2:
        raise DataError(path, f"prepared images must be gray, got shape {array.shape}")
    scale = 255.0 if array.dtype == np.uint8 else 65535.0
    return array.astype(np.float32) / scale
