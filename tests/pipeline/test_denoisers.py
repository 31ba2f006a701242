"""Denoisers: the paper UNet layout, latent channels, the DiT, the local resconv, the timm import fallback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import zoo
from zoo.denoisers.unet import unet_block_types


def test_paper_layout_follows_latent_size() -> None:
    att = (16,)
    assert unet_block_types(64, 4, att) == (
        ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
        ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
    )
    assert unet_block_types(32, 4, att) == (
        ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
        ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    )


def test_paper_unet_config_is_the_papers() -> None:
    model = zoo.build_denoiser("unet", pretrained=False, latent_channels=3, sample_size=64)
    cfg = model.unet.config
    assert tuple(cfg.block_out_channels) == (128, 256, 512, 512) and cfg.layers_per_block == 2
    assert (cfg.in_channels, cfg.out_channels) == (6, 3) and cfg.norm_num_groups == 32
    assert model.prediction_type == "x0" and model.size_multiple == 8 and model.card.name == "unet"


@pytest.mark.parametrize("name", ["unet", "dit", "resconv"])
@pytest.mark.parametrize("prediction_type", ["x0", "v"])
def test_tiny_denoisers_run_at_any_multiple(name: str, prediction_type: str) -> None:
    model = zoo.build_denoiser(name, pretrained=False, preset="tiny", latent_channels=1,
                             prediction_type=prediction_type)
    x = torch.randn(2, 1, 12, 20)
    out = model(x, torch.tensor([0, 999]), torch.randn_like(x))
    assert out.shape == x.shape and model.prediction_type == prediction_type
    with pytest.raises(ValueError, match="must be B x 1 x H x W"):
        model(torch.randn(2, 3, 12, 20), torch.tensor([0, 1]), torch.randn(2, 3, 12, 20))
    if model.size_multiple > 1:
        with pytest.raises(ValueError, match=f"multiple of {model.size_multiple}"):
            model(torch.randn(1, 1, 13, 20), torch.tensor([0]), torch.randn(1, 1, 13, 20))


def test_dit_depends_on_timestep_and_conditioning_and_each_patch() -> None:
    model = zoo.build_denoiser("dit", pretrained=False, preset="tiny", latent_channels=2)
    with torch.no_grad():  # leave adaLN-Zero's zero init so that the output depends on its inputs
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x, c = torch.randn(1, 2, 8, 8), torch.randn(1, 2, 8, 8)
    base = model(x, torch.tensor([10]), c)
    assert not torch.allclose(base, model(x, torch.tensor([900]), c))
    assert not torch.allclose(base, model(x, torch.tensor([10]), c + 1))
    assert base.abs().amin(dim=(0, 1)).gt(0).all()  # every output pixel is written


def test_resconv_reads_exactly_its_receptive_radius() -> None:
    model = zoo.build_denoiser("resconv", pretrained=False, preset="tiny", latent_channels=2)
    r = model.receptive_radius
    assert r == 6
    with torch.no_grad():  # open the noisy latent's gate (zero at initialisation)
        model.noisy_gate.bias.fill_(1.0)
    x, c, t = torch.randn(1, 2, 31, 31), torch.randn(1, 2, 31, 31), torch.tensor([500])
    with torch.no_grad():
        base = model(x, t, c)
        for z in (x, c):  # one pixel of either input
            z[..., 15, 15] += 10.0
            changed = (model(x, t, c) - base).abs().amax(dim=(0, 1)) > 0
            z[..., 15, 15] -= 10.0
            rows, cols = changed.nonzero().T
            assert (rows.min(), rows.max(), cols.min(), cols.max()) == (15 - r, 15 + r, 15 - r, 15 + r)
        assert not torch.allclose(base, model(x, torch.tensor([10]), c))  # the timestep changes the output


def test_resconv_starts_by_ignoring_the_noisy_latent() -> None:
    model = zoo.build_denoiser("resconv", pretrained=False, preset="tiny", latent_channels=2)
    c, t = torch.randn(1, 2, 16, 16), torch.tensor([999])
    with torch.no_grad():
        torch.testing.assert_close(model(torch.randn(1, 2, 16, 16), t, c), model(torch.randn(1, 2, 16, 16), t, c))


def test_resconv_output_does_not_depend_on_the_image_around_its_radius() -> None:
    model = zoo.build_denoiser("resconv", pretrained=False, preset="tiny", latent_channels=2)
    r = model.receptive_radius
    x, c, t = torch.randn(1, 2, 40, 48), torch.randn(1, 2, 40, 48), torch.tensor([999])
    with torch.no_grad():
        whole = model(x, t, c)
        crop = model(x[..., 5:35, 9:41], t, c[..., 5:35, 9:41])
    torch.testing.assert_close(crop[..., r:-r, r:-r], whole[..., 5 + r : 35 - r, 9 + r : 41 - r])


def test_unknown_preset_and_option_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown unet preset 'huge'"):
        zoo.build_denoiser("unet", pretrained=False, preset="huge")
    with pytest.raises(ValueError, match="unknown option"):
        zoo.build_denoiser("dit", pretrained=False, preset="tiny", widht=3)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['depth'\]"):
        zoo.build_denoiser("resconv", pretrained=False, preset="tiny", depth=3)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_timm_layers_load_without_torchvision() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torchvision' or name.startswith('torchvision.'): raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from zoo.denoisers.timm_layers import PatchEmbed, Mlp, Attention\n"
        "print(PatchEmbed.__module__, Mlp.__module__, Attention.__module__)\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["timm.layers.patch_embed", "timm.layers.mlp", "timm.layers.attention"]


def test_missing_timm_is_a_clear_error() -> None:
    code = (
        "import sys\n"
        "sys.modules['timm'] = None  # what Python sees when timm is not installed\n"
        "import zoo\n"
        "zoo.build_denoiser('dit', pretrained=False, preset='tiny')\n"
    )
    result = _run(code)
    assert result.returncode != 0
    assert "pip install --no-deps timm" in result.stderr.strip().splitlines()[-1]
