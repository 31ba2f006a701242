"""The zoo.Autoencoder adapter, saved folders, paths as names, precision, preprocessing and `zoo info`."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from zoo import build_autoencoder
from zoo.autoencoders.describe import count_parameters, describe_autoencoder
from zoo.autoencoders.loading import CARD_FILE, WEIGHTS_FILE, save_autoencoder
from zoo.autoencoders.precision import check_fp16, to_dtype
from zoo.autoencoders.preprocess import from_model_output, to_model_input
from zoo.registry import get_card
from zoo.weights import WeightsError

TINY = {"block_out_channels": [32, 32]}  # f2, two levels of 32 channels


@pytest.fixture()
def tiny():
    torch.manual_seed(0)
    return build_autoencoder("medvae-4-4", pretrained=False, **TINY)


def test_encode_decode_geometry_and_sampling(tiny):
    x = torch.rand(2, 1, 16, 24) * 2 - 1
    z = tiny.encode(x)
    assert z.shape == (2, 4, 8, 12) and tiny.downsample_factor == 2
    assert torch.equal(z, tiny.encode(x))
    s1 = tiny.encode(x, sample=True, generator=torch.Generator().manual_seed(1))
    s2 = tiny.encode(x, sample=True, generator=torch.Generator().manual_seed(1))
    s3 = tiny.encode(x, sample=True, generator=torch.Generator().manual_seed(2))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3) and not torch.equal(s1, z)
    assert tiny.decode(z).shape == x.shape
    with pytest.raises(ValueError, match="15x24 is not a multiple of the downsample factor 2"):
        tiny.encode(x[:, :, :15])
    with pytest.raises(ValueError, match="image must be B x 1 x H x W"):
        tiny.encode(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="latent must be B x 4"):
        tiny.decode(torch.zeros(1, 3, 8, 8))


def test_autocast_is_disabled_inside(tiny):
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    ref = tiny.encode(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = tiny.encode(x)
    assert z.dtype == torch.float32 and torch.equal(z, ref)


def test_save_and_reopen_folder(tiny, tmp_path):
    folder = save_autoencoder(tiny, tmp_path / "ae")
    assert sorted(p.name for p in folder.iterdir()) == sorted([CARD_FILE, WEIGHTS_FILE])
    meta = json.loads((folder / CARD_FILE).read_text())
    assert meta["card"]["name"] == "medvae-4-4" and meta["card"]["config"]["block_out_channels"] == [32, 32]
    for source in (folder, str(folder)):
        again = build_autoencoder(source)
        x = torch.rand(1, 1, 16, 16) * 2 - 1
        assert torch.equal(again.encode(x), tiny.encode(x)) and again.card.name == "medvae-4-4"
    # its safetensors file is also a weights source for the registered name
    same = build_autoencoder("medvae-4-4", weights=folder / WEIGHTS_FILE, **TINY)
    assert all(torch.equal(a, b) for a, b in zip(same.state_dict().values(), tiny.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match="carries its own weights"):
        build_autoencoder(folder, weights=folder / WEIGHTS_FILE)


def test_diffusers_folder_and_bare_file_by_path(tiny, tmp_path):
    tiny.vae.save_pretrained(tmp_path / "diffusers")
    ae = build_autoencoder(tmp_path / "diffusers")
    assert (ae.in_channels, ae.latent_channels, ae.downsample_factor) == (1, 4, 2)
    x = torch.rand(1, 1, 8, 8) * 2 - 1
    assert torch.equal(ae.encode(x), tiny.encode(x))
    bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {"foo.weight": torch.zeros(2)}}, bad)
    with pytest.raises(WeightsError, match=r"bad.ckpt: cannot infer the architecture .*build_autoencoder\(NAME"):
        build_autoencoder(bad)
    with pytest.raises(WeightsError, match="not found"):
        build_autoencoder(tmp_path / "missing.safetensors")


def test_no_silent_random_weights():
    with pytest.raises(ValueError, match="kl-f4.*no default weights"):
        build_autoencoder("kl-f4")


def test_fp16_probe_passes_and_fails(tiny):
    probe = torch.rand(1, 1, 16, 16) * 2 - 1
    result = check_fp16(tiny, probe)
    assert result["finite"] and result["ok"], result
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert to_dtype(tiny, torch.float16, probe).vae.dtype == torch.float16
    broken = build_autoencoder("medvae-4-4", pretrained=False, **TINY)
    with torch.no_grad():  # activations beyond the fp16 range (65504), as in VAEs that overflow
        broken.vae.encoder.conv_in.weight.mul_(1e5)
    with pytest.warns(RuntimeWarning, match="fp16 failed the probe check.*upcasting to float32"):
        out = to_dtype(broken, torch.float16, probe)
    assert out.vae.dtype == torch.float32 and torch.isfinite(out.encode(probe)).all()
    with pytest.warns(RuntimeWarning, match="without a probe"):
        assert to_dtype(tiny, torch.float16).vae.dtype == torch.float32
    assert to_dtype(tiny, torch.bfloat16).vae.dtype == torch.bfloat16


def test_preprocess_channels_and_intensity():
    gray = torch.rand(2, 1, 8, 8) * 0.5 + 0.25
    medvae3, medvae1, sd = get_card("autoencoder", "medvae"), get_card("autoencoder", "medvae-4-1"), \
        get_card("autoencoder", "sd-vae")
    x = to_model_input(gray, medvae3)
    assert x.shape == (2, 3, 8, 8) and torch.equal(x[:, 0], x[:, 2])
    assert torch.allclose(x.flatten(1).amin(1), torch.tensor(-1.0))
    assert torch.allclose(x.flatten(1).amax(1), torch.tensor(1.0))
    assert torch.allclose(to_model_input(gray, sd), (gray * 2 - 1).expand(-1, 3, -1, -1))
    assert to_model_input(torch.rand(1, 3, 4, 4), medvae1).shape == (1, 1, 4, 4)
    with pytest.raises(ValueError, match="cannot map 2 image channels"):
        to_model_input(torch.rand(1, 2, 4, 4), sd)
    out = torch.stack([torch.full((4, 4), -1.0), torch.zeros(4, 4), torch.full((4, 4), 3.0)])[None]
    assert torch.allclose(from_model_output(out), torch.full((1, 1, 4, 4), 0.5))
    assert from_model_output(out, channels=3).shape == (1, 3, 4, 4)


def test_describe_and_zoo_info():
    from click.testing import CliRunner

    from zoo.cli.components import info_cmd

    card = get_card("autoencoder", "medvae-4-3")
    built = build_autoencoder(card, pretrained=False, block_out_channels=[32, 64, 128])
    small = type(card)(**{**{f: getattr(card, f) for f in card.field_names()},
                         "config": dict(built.vae.config)})
    assert count_parameters(small) == sum(p.numel() for p in built.parameters())
    facts = describe_autoencoder(card)
    assert facts["geometry"].startswith("3x256x256 -> 3x64x64")
    assert facts["parameters"] == "55,312,063"  # vae.md: diffusers count of the 3-channel f4 model
    assert facts["weight_status"].startswith("not downloaded")
    assert describe_autoencoder(get_card("autoencoder", "kl-f4"))["weight_status"].startswith("no default weights")
    result = CliRunner().invoke(info_cmd, ["medvae-4-3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["parameters"] == "55,312,063" and data["card"]["license"] == "MIT"


def test_a_grey_output_for_colour_is_a_tensor_of_its_own():
    """A 1-channel decoder's output for an RGB image: three real channels, writable in place."""
    rgb = from_model_output(torch.linspace(-1, 1, 12).reshape(1, 1, 3, 4), channels=3)
    assert rgb.shape == (1, 3, 3, 4) and torch.equal(rgb[:, 0], rgb[:, 2])
    rgb[:, 0].add_(0.5)  # an expanded view would write one memory location three times, or refuse
    assert not torch.equal(rgb[:, 0], rgb[:, 1])


def test_channel_overrides_reach_the_card_so_inputs_are_not_replicated():
    """configs/demo-autoencoder.yaml builds kl-f4 (a 3-channel card) with ``in_channels: 1``: the card must say 1,
    else the model input is replicated to 3 channels and the 1-channel conv refuses it (docs/training.md)."""
    ae = build_autoencoder("kl-f4", pretrained=False, in_channels=1, out_channels=1, latent_channels=2,
                           block_out_channels=[8, 8], norm_num_groups=4)
    assert (ae.card.in_channels, ae.card.latent_channels, ae.card.downsample_factor) == (1, 2, 2)
    x = to_model_input(torch.rand(1, 1, 8, 8), ae.card)
    assert x.shape == (1, 1, 8, 8) and ae.decode(ae.encode(x)).shape == (1, 1, 8, 8)
