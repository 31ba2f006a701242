"""LR synthesis: a small registry of degradations, each ``fn(crop, lr_size, rng) -> lr``.

``crop`` is the square HR crop as float32 in [0, 1] (before it is resized to the HR size), as in the
paper's BraTS/CXR scripts where LR = LANCZOS(crop, 64), not a downsample of the 256 HR image.
PIL's BICUBIC and LANCZOS antialias when downscaling (the filter support grows with the factor);
``torch.nn.functional.interpolate(antialias=False)`` does not reproduce them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Degradation = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
DEGRADATIONS: dict[str, Degradation] = {}
DESCRIPTIONS: dict[str, str] = {}


def register_degradation(name: str, description: str) -> Callable[[Degradation], Degradation]:
    """Decorator: add a degradation under ``name`` (an existing name is an error)."""

    def add(fn: Degradation) -> Degradation:
        if name in DEGRADATIONS:
            raise ValueError(f"degradation {name!r} is already registered")
        DEGRADATIONS[name] = fn
        DESCRIPTIONS[name] = description
        return fn

    return add


def get_degradation(name: str) -> Degradation:
    try:
        return DEGRADATIONS[name]
    except KeyError:
        raise ValueError(f"unknown degradation {name!r}; choose from {', '.join(sorted(DEGRADATIONS))}") from None


def pil_resize(image: np.ndarray, size: int | tuple[int, int], resample: str = "lanczos") -> np.ndarray:
    """Resize a 2D array with PIL to ``size`` (square int or (h, w)).

    uint8 input runs in PIL mode "L" (bit-exact with the paper's 8-bit scripts); anything else runs
    in float mode "F" (no quantisation) and returns float32.
    """
    from PIL import Image

    h, w = (size, size) if isinstance(size, int) else size
    filt = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC,
            "bilinear": Image.Resampling.BILINEAR, "box": Image.Resampling.BOX,
            "nearest": Image.Resampling.NEAREST}[resample]
    if image.ndim != 2:
        raise ValueError(f"pil_resize needs a 2D image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return np.asarray(Image.fromarray(image, mode="L").resize((w, h), filt))
    im = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F")
    return np.asarray(im.resize((w, h), filt), dtype=np.float32)


@register_degradation("lanczos", "PIL LANCZOS (antialiased) of the crop: the paper's BraTS/CXR LR")
def lanczos(crop: np.ndarray, lr_size: int, rng: np.random.Generator) -> np.ndarray:
    return pil_resize(crop, lr_size, "lanczos")


@register_degradation("bicubic", "PIL BICUBIC (antialiased) of the crop: the paper's MRNet lr_64")
def bicubic(crop: np.ndarray, lr_size: int, rng: np.random.Generator) -> np.ndarray:
    return pil_resize(crop, lr_size, "bicubic")


@register_degradation("kspace", "MRI k-space truncation: keep the central lr_size^2 Fourier coefficients")
def kspace(crop: np.ndarray, lr_size: int, rng: np.random.Generator) -> np.ndarray:
    n_h, n_w = crop.shape
    spectrum = np.fft.fftshift(np.fft.fft2(crop.astype(np.float64)))
    top, left = n_h // 2 - lr_size // 2, n_w // 2 - lr_size // 2
    centre = spectrum[top : top + lr_size, left : left + lr_size]
    lr = np.fft.ifft2(np.fft.ifftshift(centre)) * (lr_size * lr_size) / (n_h * n_w)
    return np.abs(lr).astype(np.float32)  # magnitude image, as an MR scanner reconstructs


@register_degradation("blur-noise", "Gaussian blur (sigma = 0.5 x factor), area downsampling, noise (std 0.01)")
def blur_noise(crop: np.ndarray, lr_size: int, rng: np.random.Generator, noise_std: float = 0.01) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    factor = crop.shape[0] / lr_size
    blurred = gaussian_filter(crop.astype(np.float32), sigma=0.5 * factor, mode="reflect")
    lr = pil_resize(blurred, lr_size, "box")
    return (lr + rng.normal(0.0, noise_std, lr.shape)).astype(np.float32)
