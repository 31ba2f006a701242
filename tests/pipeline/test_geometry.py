"""One geometry for an SR call: HR side -> LR side -> the encoder's input side -> latent side."""

from __future__ import annotations

import pytest
import torch

from zoo.ops.geometry import Geometry

from .conftest import tiny_pipeline


@pytest.mark.parametrize(("conditioning", "encode_size"), [("lr-latent", 32), ("bicubic-latent", 128)])
def test_a_pipeline_geometry_follows_its_scale_factor_and_conditioning(conditioning, encode_size) -> None:
    pipe = tiny_pipeline("medvae-4-1", "unet", "ddim", steps=1, scale=4, conditioning=conditioning)
    g = pipe.geometry(128)
    assert (g.in_channels, g.latent_channels, g.downsample_factor) == (1, pipe.vae.latent_channels, 4)
    assert (g.lr_size, g.encode_size, g.latent_size) == (32, encode_size, 32)
    assert g.encode_latent_size == encode_size // 4 and g.fits_autoencoder
    # the conditioning latent the pipeline builds has the geometry's latent side
    assert pipe.conditioning_latent(torch.rand(1, 1, 32, 32)).shape[-1] == g.latent_size


def test_the_hr_step_is_the_least_side_every_stage_takes() -> None:
    lr_latent = Geometry(1, 3, 4, 120, 4)
    assert not lr_latent.fits_autoencoder  # LR 30 is not a multiple of 4
    assert lr_latent.hr_step() == 16 and lr_latent.hr_step(size_multiple=8) == 32
    bicubic = Geometry(1, 3, 4, 120, 4, "bicubic-latent")
    assert bicubic.fits_autoencoder and bicubic.hr_step() == 4 and bicubic.hr_step(size_multiple=8) == 32


def test_stage_inputs_have_the_geometry_shapes() -> None:
    g = Geometry(3, 4, 8, 256, 4)
    gen = torch.Generator().manual_seed(0)
    (x,) = g.stage_inputs("encoder", 2, gen)
    x_t, t, cond = g.stage_inputs("denoiser", 2, gen)
    (z,) = g.stage_inputs("decoder", 1, gen)
    assert x.shape == (2, 3, 64, 64) and -1 <= x.min() and x.max() <= 1
    assert x_t.shape == cond.shape == (2, 4, 32, 32) and t.dtype == torch.int64 and t.shape == (2,)
    assert z.shape == (1, 4, 32, 32)
