"""The embedded default's parts: the space-to-depth first stage, the LR back-projection, the 1-step training options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.assets import ZOO_S2D_F4
from zoo.autoencoders.patch import PatchAutoencoder
from zoo.ops.consistency import lanczos_downsample, project_to_lr


def test_space_to_depth_autoencoder_is_exact_and_saves(tmp_path: Path) -> None:
    from zoo.autoencoders.loading import save_autoencoder
    from zoo.factory import build_autoencoder

    ae = build_autoencoder(ZOO_S2D_F4, pretrained=False)
    assert isinstance(ae, PatchAutoencoder) and (ae.latent_channels, ae.downsample_factor) == (16, 4)
    x = torch.rand(2, 1, 64, 96) * 2 - 1
    z = ae.encode(x)
    assert z.shape == (2, 16, 16, 24)
    assert torch.equal(ae.decode(z), x)
    assert torch.allclose(ae.encode(x, sample=True, generator=torch.Generator().manual_seed(0)), z, atol=1e-3)
    with pytest.raises(ValueError, match="multiple of the downsample factor 4"):
        ae.encode(torch.zeros(1, 1, 30, 32))
    again = build_autoencoder(save_autoencoder(ae, tmp_path / "s2d"))
    assert isinstance(again, PatchAutoencoder) and torch.equal(again.decode(again.encode(x)), x)


@pytest.mark.parametrize("shape", [(64, 64), (32, 96), (8, 12)])
def test_lanczos_downsample_matches_pil(shape: tuple[int, int]) -> None:
    from zoo.data.degradations import pil_resize

    image = np.random.default_rng(0).random(shape).astype(np.float32)
    want = pil_resize(image, (shape[0] // 4, shape[1] // 4), "lanczos")
    got = lanczos_downsample(torch.from_numpy(image)[None, None].double(), 4)[0, 0].numpy()
    assert np.abs(got - want).max() < 1e-6


def test_back_projection_makes_the_sr_agree_with_its_lr() -> None:
    g = torch.Generator().manual_seed(0)
    hr = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 128, 128, generator=g), 5, 1, 2)
    lr = lanczos_downsample(hr, 4).clamp(0, 1)
    bicubic = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic").clamp(0, 1)
    projected = project_to_lr(bicubic, lr, 3)
    err = lambda x: float((lanczos_downsample(x, 4) - lr).abs().mean())  # noqa: E731
    assert err(projected) < 0.5 * err(bicubic)
    assert float((projected - hr).pow(2).mean()) < float((bicubic - hr).pow(2).mean())
    assert torch.equal(project_to_lr(bicubic, lr, 0), bicubic)


def test_data_consistency_is_a_saved_pipeline_option(tmp_path: Path) -> None:
    import zoo

    pipe = zoo.build_pipeline(ZOO_S2D_F4, "unet", "ddim", steps=1, pretrained=False, pretrained_denoiser=False,
                              denoiser_config={"preset": "tiny"}, hr_size=64, conditioning="bicubic-latent",
                              residual=True, pixel_skip=True, data_consistency=2)
    lr = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    out = pipe(lr, seed=0)
    pipe.save_pretrained(tmp_path / "p")
    loaded = zoo.load_pipeline(tmp_path / "p")
    assert loaded.data_consistency == 2 and loaded.config()["data_consistency"] == 2
    assert torch.allclose(loaded(lr, seed=0), out, atol=1e-6)


def test_one_step_training_options_validate() -> None:
    from zoo.train.config import ConfigError, config_from_dict

    base = {"task": "denoiser", "output": "runs/x", "data": {"root": "data"},
            "pipeline": {"loss": "log-l2", "timestep_min": 999, "timesteps": 1000}}
    cfg = config_from_dict(base)
    assert (cfg.pipeline.loss, cfg.pipeline.timestep_min) == ("log-l2", 999)
    with pytest.raises(ConfigError, match="timestep_min"):
        config_from_dict({**base, "pipeline": {"timestep_min": 1000, "timesteps": 1000}})
    with pytest.raises(ConfigError, match="pipeline.loss"):
        config_from_dict({**base, "pipeline": {"loss": "l3"}})


def test_back_projection_in_bands_equals_the_whole_image():
    """Large images are projected in row bands with a halo (bounded memory): the result is the same."""
    import torch

    from zoo.ops.consistency import project_to_lr

    torch.manual_seed(0)
    sr, lr = torch.rand(2, 1, 4 * 300, 4 * 90), torch.rand(2, 1, 300, 90)
    whole = project_to_lr(sr, lr, 3, band=10_000)
    torch.testing.assert_close(project_to_lr(sr, lr, 3, band=37, halo=32), whole, rtol=0, atol=1e-6)
    assert (project_to_lr(sr, lr, 3, band=64, halo=4) - whole).abs().max() > 1e-4  # a too-small halo shows
