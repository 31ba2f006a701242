"""What is benchmarked: an SR pipeline, its tensor geometry, example inputs, and copies of it per backend."""

from __future__ import annotations

import copy
from typing import Any

import torch

from zoo.bench.variants import Variant
from zoo.errors import ZooError
from zoo.ops.geometry import Geometry


class BenchError(ZooError, ValueError):
    """A benchmark configuration that cannot run (one-line message for the CLI)."""


def pipeline_geometry(pipe: Any, hr_size: int | None) -> Geometry:
    """Geometry of ``pipe`` at HR side ``hr_size`` (default: the denoiser's nominal latent size x f, else 256)."""
    f = int(pipe.vae.downsample_factor)
    if hr_size is None:
        sample = getattr(pipe.denoiser, "config", {}).get("sample_size")
        hr_size = int(sample) * f if sample else 256
    if hr_size % pipe.scale:
        raise BenchError(f"--size {hr_size} is not a multiple of the pipeline's scale {pipe.scale}")
    g = pipe.geometry(hr_size)
    if not g.fits_autoencoder:
        raise BenchError(f"--size {hr_size}: HR {hr_size} and LR {g.lr_size} must be multiples of the VAE factor {f}")
    return g


def geometry_report(g: Geometry) -> dict[str, Any]:
    """The report's ``geometry`` section."""
    return {
        "image_channels": g.in_channels, "latent_channels": g.latent_channels,
        "downsample_factor": g.downsample_factor, "lr_size": g.lr_size, "hr_size": g.hr_size,
        "encode_size": g.encode_size, "latent_size": g.latent_size, "conditioning": g.conditioning,
    }


def stage_inputs(g: Geometry, batch: int, device: str, seed: int = 0) -> dict[str, tuple[torch.Tensor, ...]]:
    """Fixed random inputs of each stage: images in [-1, 1], latents ~ N(0, 1), timesteps mid-schedule."""
    gen = torch.Generator().manual_seed(seed)
    lat = (batch, g.latent_channels, g.latent_size, g.latent_size)
    x = torch.rand(batch, g.in_channels, g.encode_size, g.encode_size, generator=gen) * 2 - 1
    x_t, cond, z = (torch.randn(lat, generator=gen) for _ in range(3))
    t = torch.full((batch,), 500, dtype=torch.long)
    return {
        "encode": (x.to(device),),
        "denoise": (x_t.to(device), t.to(device), cond.to(device)),
        "decode": (z.to(device),),
    }


def lr_images(g: Geometry, batch: int, device: str, seed: int = 0) -> torch.Tensor:
    """Single-channel LR images in [0, 1] for the end-to-end call (the pipeline adapts channels)."""
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.rand(batch, 1, g.lr_size, g.lr_size, generator=gen).to(device)


EXPORT_BACKENDS = ("onnxruntime", "openvino", "tensorrt")


def backend_options(variant: Variant, g: Geometry, batch: int, cache_dir: str | None) -> dict[str, Any]:
    """Factory options of the variant's backend: export backends get the size, batch profile and cache."""
    if variant.backend not in EXPORT_BACKENDS:
        return dict(variant.options)
    options: dict[str, Any] = {"size": g.hr_size, "batch": (1, batch, max(batch, 1))}
    if cache_dir:
        options["cache_dir"] = cache_dir
    if variant.backend == "onnxruntime":
        options["fp16"] = variant.precision == "fp16"
    if variant.backend == "openvino":
        options["precision"] = variant.precision
    return {**options, **variant.options}


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def with_backend(pipe: Any, variant: Variant, options: dict[str, Any]) -> Any:
    """A shallow copy of ``pipe`` whose runtime is ``variant``'s backend (modules copied for another dtype)."""
    from zoo.factory import build_backend

    clone = copy.copy(pipe)
    dtype = DTYPES[variant.precision] if variant.backend == "torch" else torch.float32  # others export fp32
    if dtype != pipe.dtype:
        clone.vae = copy.deepcopy(pipe.vae).to(dtype=dtype)
        clone.denoiser = copy.deepcopy(pipe.denoiser).to(dtype=dtype)
        clone.dtype = dtype
    clone.backend = build_backend(variant.backend, **options)
    clone.runtime = clone.backend.runtime(clone)
    return clone


class CountingRuntime:
    """Wraps a runtime and counts denoiser calls and the images each stage saw (to report how many an SR call
    made and the FLOPs it did: the self-ensemble's one call on 8 orientations is 8 images)."""

    def __init__(self, runtime: Any) -> None:
        self.inner = runtime
        self.denoise_calls = 0
        self.images = {"encode": 0, "denoise": 0, "decode": 0}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.images["encode"] += x.shape[0]
        return self.inner.encode(x)

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self.denoise_calls += 1
        self.images["denoise"] += x_t.shape[0]
        return self.inner.denoise(x_t, t, cond)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self.images["decode"] += z.shape[0]
        return self.inner.decode(z)
