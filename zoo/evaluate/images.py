"""Read evaluation images as float64 arrays in [0, 1].

Integer images are scaled by their dtype's range (uint8 / 255, uint16 / 65535, ...), so an 8-bit
and a 16-bit copy of the same scan give the same values. Float images (float TIFF) are taken as
already in [0, 1]. Colour images are averaged over their channels (the paper's grayscale).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.errors import ZooError

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")


class ImageReadError(ZooError, ValueError):
    """An image file could not be read or has an unsupported layout."""


def _read_raw(path: Path) -> np.ndarray:
    from zoo.data.limits import check_pixels

    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        from zoo.data.readers import _check_tiff_size, quiet_tifffile

        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            _check_tiff_size(path, tif)  # the declared size, before decoding (ZOO_MAX_IMAGE_PIXELS)
            return np.asarray(tif.asarray())
    from PIL import Image

    from zoo.data.readers import _pillow_checks_off

    with _pillow_checks_off(), Image.open(path) as im:
        check_pixels(path, (im.size[1], im.size[0]))  # zoo's cap replaces Pillow's
        if im.mode in ("P", "PA"):
            im = im.convert("RGBA" if "A" in im.mode else "RGB")
        array = np.asarray(im)
    if im.mode == "I" and array.size and array.min() >= 0 and array.max() <= 65535:
        array = array.astype(np.uint16)  # some writers' 16-bit PNGs open as 32-bit "I"
    return array


def to_unit_range(array: np.ndarray) -> np.ndarray:
    """Map an image array to float64 [0, 1] by its dtype's range; floats pass through."""
    if array.dtype == bool:
        return array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        if info.min < 0:
            raise ImageReadError(f"signed integer images ({array.dtype}) have no fixed [0,1] mapping")
        return array.astype(np.float64) / float(info.max)
    return array.astype(np.float64)


def read_image(path: str | Path) -> np.ndarray:
    """A 2-D float64 image in [0, 1] (channel mean for colour; an alpha channel is dropped)."""
    path = Path(path)
    try:
        raw = _read_raw(path)
    except ZooError:
        raise
    except Exception as err:  # PIL/tifffile raise many types for corrupt files
        raise ImageReadError(f"{path}: cannot read image ({type(err).__name__}: {err})") from err
    if raw.ndim == 3 and raw.shape[-1] in (2, 4):  # LA / RGBA: drop alpha
        raw = raw[..., :-1]
    image = to_unit_range(raw)
    if image.ndim == 3 and image.shape[-1] in (1, 3):
        image = image.mean(axis=-1)
    if image.ndim != 2:
        raise ImageReadError(f"{path}: expected a 2-D grayscale or RGB image, got shape {raw.shape}")
    return image
