"""The pixel-space skip option and the shared intensity scale of training pairs (minmax cards)."""

from __future__ import annotations

import pytest
import torch

from tests.pipeline.conftest import tiny_pipeline
from zoo.autoencoders.preprocess import to_model_input
from zoo.ops.resample import upsample_lr
from zoo.pipeline import CompatibilityError


class ZeroResidual(torch.nn.Module):
    """An x0 denoiser that adds nothing to the conditioning latent (with ``residual=True``)."""

    latent_channels, prediction_type, size_multiple = 3, "x0", 1

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))  # backends read the dtype from the parameters

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x_t)


def test_pixel_skip_needs_bicubic_conditioning() -> None:
    with pytest.raises(CompatibilityError, match="bicubic-latent"):
        tiny_pipeline("medvae-4-3", pixel_skip=True)


def test_pixel_skip_returns_bicubic_when_the_denoiser_adds_nothing() -> None:
    pipe = tiny_pipeline("kl-f4", ZeroResidual(), conditioning="bicubic-latent", residual=True, pixel_skip=True)
    lr = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    sr = pipe(lr, seed=0)
    bicubic = upsample_lr(lr, (64, 64))
    assert (sr - bicubic).abs().max().item() < 1e-5
    plain = tiny_pipeline("kl-f4", ZeroResidual(), conditioning="bicubic-latent", residual=True)
    assert (plain(lr, seed=0) - bicubic).abs().max().item() > 1e-2  # without the skip: the VAE's own error


def test_minmax_training_target_uses_the_lr_range() -> None:
    pipe = tiny_pipeline("medvae-4-3")
    g = torch.Generator().manual_seed(1)
    hr = torch.rand(2, 1, 128, 128, generator=g)
    lr = torch.nn.functional.avg_pool2d(hr, 4) * 0.5 + 0.2  # narrower range than the HR, as after antialiasing
    target, _ = pipe.prepare_latents(hr, lr)
    lo = lr.flatten(1).min(1).values.view(-1, 1, 1, 1)
    hi = lr.flatten(1).max(1).values.view(-1, 1, 1, 1)
    expected = pipe.normalize(pipe.runtime.encode(to_model_input((hr - lo) / (hi - lo), _fixed(pipe))))
    assert torch.allclose(target, expected, atol=1e-5)
    own = pipe.normalize(pipe.encode(hr))  # the HR's own range gives another target
    assert (target - own).abs().max().item() > 1e-3


def _fixed(pipe):
    """The pipeline's card with intensity 'fixed' (so to_model_input only maps [0, 1] to [-1, 1])."""
    from dataclasses import replace

    return replace(pipe.vae.card, intensity="fixed")
