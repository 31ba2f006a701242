"""Official checkpoints (written by the official code, random weights) load strictly and match the official
models: posterior mean/log-variance and decode, <= 1e-10 in float64 and <= 1e-4 in float32."""

from __future__ import annotations

import pytest
import torch

from tests.autoencoders.conftest import OFFICIAL, SMALL_CH, OfficialCheckpoints, zoo_overrides
from zoo import build_autoencoder
from zoo.autoencoders.loading import StateDictMismatchError, load_autoencoder_weights
from zoo.weights import read_tensors

TOL = {torch.float64: 1e-10, torch.float32: 1e-4}
NAMES = list(OFFICIAL)


@torch.no_grad()
def max_diffs(official: torch.nn.Module, ae, in_channels: int, dtype: torch.dtype, size: int = 32) -> dict:
    """Max |official - zoo| of posterior mean, log-variance and decode (of the official mean)."""
    official = official.to(dtype).eval()
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(2, in_channels, size, size, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    post = official.encode(x)
    mean, logvar = ae.posterior(x)
    assert torch.equal(ae.encode(x), mean)
    dec_official = official.decode(post.mean)
    dec = ae.decode(post.mean)
    assert dec.dtype == dtype and mean.shape == post.mean.shape
    return {
        "mean": (post.mean - mean).abs().max().item(),
        "logvar": (post.logvar - logvar).abs().max().item(),
        "decode": (dec_official - dec).abs().max().item(),
    }


def zoo_model(name: str, path, ch: int, dtype: torch.dtype):
    """zoo's model in ``dtype`` with the checkpoint loaded (after the cast, so float64 keeps the exact LoRA merge)."""
    ae = build_autoencoder(name, pretrained=False, **zoo_overrides(OFFICIAL[name], ch)).to(dtype)
    return load_autoencoder_weights(ae, path).eval()


def check_parity(checkpoints: OfficialCheckpoints, name: str, ch: int) -> dict:
    """Max diffs per dtype (shown with ``pytest -s``); asserts the tolerances."""
    official, path = checkpoints.get(name, ch)
    report = {}
    for dtype, tol in TOL.items():
        diffs = max_diffs(official, zoo_model(name, path, ch, dtype), OFFICIAL[name].in_channels, dtype)
        report[str(dtype)] = diffs
        assert max(diffs.values()) <= tol, f"{name} {dtype}: {diffs}"
    print(f"parity {name} ch={ch}: " + "; ".join(
        f"{d}: " + ", ".join(f"{k} {v:.1e}" for k, v in r.items()) for d, r in report.items()))
    return report


@pytest.mark.parametrize("name", NAMES)
def test_official_checkpoint_loads_strictly_via_card(official_checkpoints, name):
    _, path = official_checkpoints.get(name)
    ae = build_autoencoder(name, weights=path, **zoo_overrides(OFFICIAL[name], SMALL_CH))
    assert ae.card.name == name and not ae.training
    raw = read_tensors(path)
    raw = raw.get("state_dict", raw)
    assert any(".lora_up." in k for k in raw) == OFFICIAL[name].lora
    assert any(k.startswith("channel_ds.") for k in raw) == OFFICIAL[name].s2_head


@pytest.mark.parametrize("name", NAMES)
def test_parity_small_width(official_checkpoints, name):
    check_parity(official_checkpoints, name, SMALL_CH)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_parity_full_size(official_checkpoints, name):
    check_parity(official_checkpoints, name, 128)
    official_checkpoints.drop(name, 128)


@pytest.mark.parametrize("name", ["medvae-4-3", "medvae-8-4"])
def test_lora_merge_is_required(official_checkpoints, name):
    official, path = official_checkpoints.get(name)
    ae = build_autoencoder(name, pretrained=False, **zoo_overrides(OFFICIAL[name], SMALL_CH))
    with pytest.raises(StateDictMismatchError, match="unexpected key.*lora_"):
        load_autoencoder_weights(ae, path, lora=False)
    # dropping the LoRA branches instead of merging them loads, but breaks parity
    sd = read_tensors(path)["state_dict"]
    lora_sites = {k[: -len(".lora_up.weight")] for k in sd if k.endswith(".lora_up.weight")}
    no_lora = {}
    for key, value in sd.items():
        site, _, leaf = key.rpartition(".conv.")
        if site in lora_sites:
            no_lora[f"{site}.{leaf}"] = value
        elif ".lora_" not in key:
            no_lora[key] = value
    torch.save({"state_dict": no_lora}, path.with_name("no-lora.ckpt"))
    load_autoencoder_weights(ae, path.with_name("no-lora.ckpt"))
    diffs = max_diffs(official, ae, OFFICIAL[name].in_channels, torch.float32)
    assert diffs["mean"] > 100 * TOL[torch.float32], diffs


@pytest.mark.parametrize("name", ["medvae-4-1", "kl-f4", "sd-vae"])
def test_bare_checkpoint_path_infers_architecture(official_checkpoints, name):
    official, path = official_checkpoints.get(name)
    ae = build_autoencoder(str(path))
    spec = OFFICIAL[name]
    assert (ae.in_channels, ae.latent_channels) == (spec.in_channels, spec.z_channels)
    assert ae.downsample_factor == 2 ** (len(spec.ch_mult) - 1)
    diffs = max_diffs(official, ae, spec.in_channels, torch.float32)
    assert max(diffs.values()) <= TOL[torch.float32], diffs


def test_sd_vae_diffusers_folder_and_full_sd_checkpoint(official_checkpoints, tmp_path):
    """SD-VAE as diffusers folder (converted by diffusers' own converter, old attention names too) and
    inside a full SD checkpoint (``first_stage_model.`` prefix)."""
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    official, path = official_checkpoints.get("sd-vae")
    sd = read_tensors(path)
    overrides = zoo_overrides(OFFICIAL["sd-vae"], SMALL_CH)
    card_ae = build_autoencoder("sd-vae", pretrained=False, **overrides)
    ref = AutoencoderKL(**dict(card_ae.vae.config))
    ref.load_state_dict(convert_ldm_vae_checkpoint(sd, dict(ref.config)), strict=True)
    ref.save_pretrained(tmp_path / "diffusers")
    for source in (tmp_path / "diffusers", str(tmp_path / "diffusers")):
        ae = build_autoencoder("sd-vae", weights=source, **overrides)
        assert max(max_diffs(official, ae, 3, torch.float32).values()) <= 1e-4

    old = {}  # diffusers < 0.14 attention names with 1x1-conv-shaped weights, as in early hub uploads
    names = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    for k, v in ref.state_dict().items():
        for new, dep in names.items():
            if f".attentions.0.{new}." in k:
                k, v = k.replace(f".{new}.", f".{dep}."), v[..., None, None] if v.ndim == 2 else v
        old[k] = v
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in old.items()}, str(tmp_path / "old.safetensors"))
    ae = build_autoencoder("sd-vae", weights=tmp_path / "old.safetensors", **overrides)
    assert max(max_diffs(official, ae, 3, torch.float32).values()) <= 1e-4

    full = {f"first_stage_model.{k}": v for k, v in sd.items()}
    full["model.diffusion_model.input_blocks.0.0.weight"] = torch.zeros(4, 4, 3, 3)
    torch.save({"state_dict": full, "global_step": 1}, tmp_path / "sd.ckpt")
    ae = build_autoencoder("sd-vae", weights=tmp_path / "sd.ckpt", **overrides)
    assert max(max_diffs(official, ae, 3, torch.float32).values()) <= 1e-4


def test_wrong_card_lists_mismatches(official_checkpoints):
    _, path = official_checkpoints.get("medvae-4-1")
    with pytest.raises(StateDictMismatchError) as err:
        build_autoencoder("medvae-8-1", weights=path, **zoo_overrides(OFFICIAL["medvae-8-1"], SMALL_CH))
    msg = str(err.value)
    assert str(path) in msg and "missing key" in msg and "blocks.3." in msg
    with pytest.raises(StateDictMismatchError, match="shape mismatch"):
        build_autoencoder("medvae-4-4", weights=path, **zoo_overrides(OFFICIAL["medvae-4-4"], SMALL_CH))
