"""The decoded-size cap of input images, checked from each file's header before any pixel is decoded.

A small file can declare a huge image (a "decompression bomb": a 100 kB PNG or zlib TIFF that
decodes to tens of GiB). Every reader calls :func:`check_pixels` with the shape the header declares;
a file above the cap is a :class:`~zoo.data.errors.DataError` for that file alone.

The cap counts pixels of all slices and frames (width x height x slices x frames, colour channels
not counted). Default 2**28 = 268,435,456: a 512 x 512 x 1024 volume or a 16384 x 16384 image;
a 3000 x 3000 radiograph is 9 M. Set ``ZOO_MAX_IMAGE_PIXELS`` (a positive integer; ``0`` or ``none``
switches the cap off) to change it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from zoo.data.errors import DataError
from zoo.utils.env_vars import env_int

ENV_VAR = "ZOO_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 2**28


def max_image_pixels() -> int | None:
    """The cap in pixels (``None``: no cap), from ``ZOO_MAX_IMAGE_PIXELS`` or the default.

    Raises :class:`zoo.utils.env_vars.EnvVarError` for a value that is not a positive whole number (or 0/none/off).
    """
    return env_int(ENV_VAR, DEFAULT_MAX_PIXELS, allow_off=True)


def check_pixels(path: str | os.PathLike, shape: Sequence[int], what: str = "image") -> None:
    """Refuse ``path`` if the ``shape`` its header declares (channels excluded) exceeds the cap."""
    cap = max_image_pixels()
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise DataError(path, f"the header declares a negative size {tuple(dims)}")
    pixels = math.prod(dims)
    if cap is not None and pixels > cap:
        size = " x ".join(str(d) for d in dims)
        raise DataError(path, f"{what} of {size} = {pixels:,} pixels exceeds the limit of {cap:,} "
                              f"(possible decompression bomb; raise it with {ENV_VAR}=N, 0 for no limit)")


def out_of_memory(path: str | os.PathLike, shape: Sequence[int] | None = None) -> DataError:
    """The per-file error for a decode that ran out of memory."""
    size = f" ({' x '.join(str(int(d)) for d in shape)})" if shape else ""
    return DataError(path, f"not enough memory to decode the image{size}; lower {ENV_VAR} to refuse such files "
                           "up front, or free memory")
