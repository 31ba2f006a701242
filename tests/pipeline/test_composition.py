"""Every registered autoencoder x denoiser x sampler composes into a working pipeline (random weights)."""

from __future__ import annotations

import functools

import pytest
import torch

import zoo

from .conftest import tiny_pipeline

VAES = [c.name for c in zoo.list_components("autoencoder") if c.card is not None]
DENOISERS = [c.name for c in zoo.list_components("denoiser") if c.card is not None]
SAMPLERS = [c.name for c in zoo.list_components("sampler") if c.card is not None]


@functools.lru_cache(maxsize=4)
def _pipeline(vae: str, denoiser: str):
    return tiny_pipeline(vae, denoiser, "ddim", steps=2)


def test_the_builtins_are_all_in_the_matrix() -> None:
    assert {"sd-vae", "kl-f4", "medvae-4-1", "medvae-4-3", "medvae-4-4", "medvae-8-1", "medvae-8-4"} <= set(VAES)
    assert {"unet", "dit", "resconv"} <= set(DENOISERS) and {"ddpm", "ddim", "dpmpp-2m", "cold"} <= set(SAMPLERS)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("denoiser", DENOISERS)
@pytest.mark.parametrize("vae", VAES)
def test_composition(vae: str, denoiser: str, sampler: str) -> None:
    pipe = _pipeline(vae, denoiser)
    assert pipe.denoiser.latent_channels == pipe.vae.latent_channels
    lr = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    sr = pipe(lr, seed=0, steps=2, sampler=sampler, progress=False)
    assert sr.shape == (2, 1, 128, 128) and sr.dtype == lr.dtype
    assert torch.isfinite(sr).all() and sr.min() >= 0 and sr.max() <= 1


@pytest.mark.parametrize("vae", ["medvae-4-1", "sd-vae"])
def test_bicubic_latent_residual_composes(vae: str) -> None:
    pipe = tiny_pipeline(vae, "unet", "ddim", steps=1, conditioning="bicubic-latent", residual=True)
    lr = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    sr = pipe(lr, seed=0, progress=False)
    assert sr.shape == (2, 3, 128, 128) and sr.dtype == torch.float64
