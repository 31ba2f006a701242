"""Exact tiles need context for the autoencoder too: an autoencoder declares ``receptive_radius`` and the tile
margin is the denoiser's plus the autoencoder's; an explicit tile must be a multiple of the factor."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import zoo
from zoo.ops.tiling import TilePlan, TilingError
from zoo.registry import register

WIDE = 8  # latent pixels the test autoencoder reads around each latent pixel: more than resconv-tiny's radius


class WideConvAutoencoder(zoo.Autoencoder):
    """1-channel f4 autoencoder of 3x3 convolutions around a wide (17x17) latent convolution: local, radius 8."""

    in_channels, latent_channels, downsample_factor = 1, 16, 4
    receptive_radius = WIDE + 1  # 3x3 pixel convolutions reach at most one latent pixel further

    def __init__(self) -> None:
        super().__init__()
        self.pixel_in = nn.Conv2d(1, 1, 3, padding=1)
        self.latent_in = nn.Conv2d(16, 16, 2 * WIDE + 1, padding=WIDE)
        self.latent_out = nn.Conv2d(16, 16, 2 * WIDE + 1, padding=WIDE)
        self.pixel_out = nn.Conv2d(1, 1, 3, padding=1)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.latent_in(F.pixel_unshuffle(self.pixel_in(x), 4))
        return mean, torch.full_like(mean, float("-inf"))

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.pixel_out(F.pixel_shuffle(self.latent_out(z), 4))


def build_wide_conv_ae() -> WideConvAutoencoder:
    torch.manual_seed(0)
    model = WideConvAutoencoder()
    with torch.no_grad():  # far taps as strong as near ones: short context shows
        for conv in (model.latent_in, model.latent_out):
            conv.weight.normal_(0, 0.01)
    return model


@pytest.fixture(scope="module")
def wide_pipe():
    register(zoo.AutoencoderCard(name="test-wide-conv-ae", factory=f"{__name__}:build_wide_conv_ae", in_channels=1,
                                 latent_channels=16, downsample_factor=4), override=True)
    torch.manual_seed(0)
    pipe = zoo.build_pipeline("test-wide-conv-ae", "resconv", steps=2, pretrained=False, hr_size=256,
                              denoiser_config={"preset": "tiny"})
    assert pipe.denoiser.receptive_radius < WIDE  # without the autoencoder's radius the margin is too small
    return pipe


def test_the_margin_is_the_sum_of_both_radii(wide_pipe):
    r = wide_pipe.denoiser.receptive_radius + wide_pipe.vae.receptive_radius
    assert wide_pipe.tile_radius() == r
    assert wide_pipe.tile_plan((512, 512), 192) == TilePlan(48, 2 * r + 2, r)


def test_tiles_of_a_local_autoencoder_equal_the_whole_image(wide_pipe):
    lr = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(1))  # HR 256 x 256, 2 x 2 tiles
    run = {"seed": 0, "progress": False}
    with torch.inference_mode():
        whole = wide_pipe.super_resolve(lr, tile="off", **run)
        exact = float((wide_pipe.super_resolve(lr, tile=192, **run) - whole).abs().max())
        # the control: the denoiser's radius alone leaves the autoencoder's tiles short of context
        r = wide_pipe.denoiser.receptive_radius
        short = float((wide_pipe.super_resolve(lr, tile=TilePlan(48, 2 * r + 2, r), **run) - whole).abs().max())
    spread = float(whole.max() - whole.min())
    assert exact < 1e-4 * spread and short > 1e-2 * spread, (exact, short, spread)


def test_a_tile_that_is_not_a_multiple_of_the_factor_is_refused(wide_pipe):
    with pytest.raises(TilingError, match="tile 130 is not a multiple of the autoencoder's downsample factor 4.*"
                                          "use 128 or 132"):
        wide_pipe.tile_plan((512, 512), 130)
