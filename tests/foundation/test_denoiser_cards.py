"""Denoiser cards like autoencoder cards: default weights checked against ``sha256``, the latent channel
count they fit checked before loading, one-line mismatch errors; ``build_denoiser`` passes what the docs say."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import zoo
from zoo.autoencoders.state import StateDictMismatchError
from zoo.cards import CardError, DenoiserCard
from zoo.registry import register
from zoo.weights import WeightsError, sha256_file

RESCONV = "zoo.denoisers.resconv:build_resconv"


def strict_factory(*, latent_channels: int, prediction_type: str, preset: str):
    """A factory without defaults for the arguments docs/plugins.md says a denoiser factory receives."""
    from zoo.denoisers.resconv import build_resconv

    return build_resconv(preset=preset, latent_channels=latent_channels, prediction_type=prediction_type)


def _weights(tmp_path: Path, latent_channels: int = 4) -> Path:
    model = zoo.build_denoiser("resconv", pretrained=False, preset="tiny", latent_channels=latent_channels)
    file = tmp_path / f"resconv-c{latent_channels}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(file))
    return file


def _card(name: str, file: Path, **fields) -> DenoiserCard:
    return DenoiserCard(name=name, factory=RESCONV, config={"preset": "tiny"}, weights=str(file),
                        sha256=sha256_file(file), latent_channels=4, **fields)


def test_denoiser_card_fields_are_checked_and_positional_order_is_kept():
    card = DenoiserCard("d", RESCONV, "desc", "MIT", {}, (), {}, "1", "eps", "w.safetensors")
    assert (card.prediction_type, card.weights, card.sha256, card.latent_channels) == ("eps", "w.safetensors",
                                                                                       None, None)
    with pytest.raises(CardError, match="sha256 must be None or 64 lower-case hex digits"):
        DenoiserCard(name="d", factory=RESCONV, sha256="abc")
    with pytest.raises(CardError, match="latent_channels must be a positive int"):
        DenoiserCard(name="d", factory=RESCONV, latent_channels=0)
    assert "sha256" in DenoiserCard(name="d", factory=RESCONV).to_dict()


def test_default_denoiser_weights_load_checked(tmp_path):
    file = _weights(tmp_path)
    register(_card("den-sha-ok", file), override=True)
    model = zoo.build_denoiser("den-sha-ok")
    stored = zoo.weights.load_state_dict(file)
    assert all(torch.equal(v, stored[k]) for k, v in model.state_dict().items())


def test_a_tampered_denoiser_weights_file_is_refused_in_one_line(tmp_path):
    file = _weights(tmp_path)
    register(_card("den-sha-tampered", file), override=True)
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch") as err:
        zoo.build_denoiser("den-sha-tampered")
    assert "\n" not in str(err.value)


def test_default_weights_for_another_latent_channel_count_are_refused_before_loading(tmp_path):
    register(_card("den-c4", _weights(tmp_path)), override=True)
    with pytest.raises(StateDictMismatchError, match="fit latent_channels=4, not latent_channels=3") as err:
        zoo.build_denoiser("den-c4", latent_channels=3)
    assert "\n" not in str(err.value)
    vae = zoo.build_autoencoder("medvae-4-3", pretrained=False, block_out_channels=[8, 8, 8], norm_num_groups=4,
                                layers_per_block=1)
    with pytest.raises(StateDictMismatchError, match="latent_channels=3 .the autoencoder's"):
        zoo.default_denoiser(vae, 64, "den-c4", pretrained=True)


def test_denoiser_weights_that_do_not_fit_are_one_line(tmp_path):
    file = _weights(tmp_path, latent_channels=3)
    with pytest.raises(StateDictMismatchError, match="does not fit the architecture") as err:
        zoo.build_denoiser("resconv", weights=file, preset="tiny", latent_channels=4)
    assert "\n" not in str(err.value) and str(file) in str(err.value)


def test_overriding_the_architecture_with_default_weights_says_pretrained_false(tmp_path):
    register(_card("den-override", _weights(tmp_path)), override=True)
    with pytest.raises(StateDictMismatchError, match="pass pretrained=False"):
        zoo.build_denoiser("den-override", preset="small")


def test_build_denoiser_passes_the_documented_arguments(tmp_path):
    register(DenoiserCard(name="den-strict", factory=f"{__name__}:strict_factory", config={"preset": "tiny"},
                          prediction_type="eps", latent_channels=3), override=True)
    model = zoo.build_denoiser("den-strict", pretrained=False)
    assert (model.latent_channels, model.prediction_type) == (3, "eps")
