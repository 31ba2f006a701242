"""Small, fast pipeline configurations shared by the pipeline tests."""

from __future__ import annotations

from typing import Any

import pytest

KL_FACTORY = "zoo.autoencoders.kl:build_autoencoder_kl"


def small_vae_config(name: str) -> dict[str, Any]:
    """Overrides that shrink a built-in KL card to 32 channels per level (same depth, GroupNorm(8), 1 layer)."""
    import zoo

    card = zoo.get_card("autoencoder", name)
    blocks = card.config.get("block_out_channels")
    if card.factory != KL_FACTORY or not blocks or max(blocks) <= 64:
        return {}
    return {"block_out_channels": [32] * len(blocks), "norm_num_groups": 8, "layers_per_block": 1}


def tiny_pipeline(vae: str = "medvae-4-3", denoiser: str = "unet", sampler: str = "ddim", **kwargs: Any):
    """A random-weight pipeline small enough for CPU tests (LR 32 -> HR 128)."""
    import zoo

    kwargs.setdefault("denoiser_config", {"preset": "tiny"})
    kwargs.setdefault("steps", 2)
    return zoo.build_pipeline(
        vae, denoiser, sampler, pretrained=False, vae_config=small_vae_config(vae), hr_size=128, **kwargs
    )


@pytest.fixture(scope="module")
def pipe43():
    """medvae-4-3 geometry (3 latent channels, f=4), tiny UNet, DDPM (stochastic) with 2 steps."""
    return tiny_pipeline("medvae-4-3", "unet", "ddpm")


def local_pipeline(data_consistency: int = 0):
    """A local denoiser (resconv tiny, random weights seeded 0, noisy-latent gate half open) on the lossless
    first stage, 2 DDIM steps: exact tiles, so tiled and banded calls can equal the whole-image call."""
    import torch

    import zoo

    torch.manual_seed(0)
    pipe = zoo.build_pipeline("zoo-s2d-f4", "resconv", steps=2, pretrained=False, conditioning="bicubic-latent",
                              residual=True, pixel_skip=True, data_consistency=data_consistency,
                              denoiser_config={"preset": "tiny"})
    with torch.no_grad():
        pipe.denoiser.noisy_gate.bias.fill_(0.5)
    return pipe
