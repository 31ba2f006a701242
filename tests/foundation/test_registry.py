"""Registry behaviour in-process: wildcards, aliases, in-process registration, clear errors."""

from __future__ import annotations

import pytest

import zoo
from zoo.cards import AutoencoderCard, CardError, SamplerCard
from zoo.registry import DuplicateComponentError, UnknownComponentError, _local, list_components, register, resolve


@pytest.fixture(autouse=True)
def clean_local_registry():
    saved = {k: list(v) for k, v in _local.items()}
    yield
    _local.update(saved)


def test_wildcard_listing_and_alias():
    names = [i.name for i in list_components(pattern="medvae-*")]
    assert names == ["medvae-4-1", "medvae-4-3", "medvae-4-4", "medvae-8-1", "medvae-8-4"]
    assert [i.name for i in list_components(pattern="medvae")] == ["medvae-4-3"]
    assert resolve("autoencoder", "medvae").name == "medvae-4-3"
    assert resolve("vae", "zoo:medvae-4-3").distribution == "zoo"
    assert {i.kind for i in list_components(kind="sampler")} == {"sampler"}


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownComponentError, match="did you mean medvae-4-3"):
        resolve("autoencoder", "medvae-4-33")
    with pytest.raises(ValueError, match="unknown component kind"):
        list_components(kind="vaes-and-more")


def test_in_process_registration_is_checked_and_atomic():
    card = AutoencoderCard(name="my-vae", factory="zoo.autoencoders.kl:build_autoencoder_kl", in_channels=1,
                           latent_channels=2, downsample_factor=2)
    register(card)
    assert zoo.get_card("autoencoder", "my-vae") is card
    clash = SamplerCard(name="ddim", factory="zoo.samplers.sampling:sample_ddim")
    with pytest.raises(DuplicateComponentError, match="already registered by zoo"):
        register(clash)
    assert resolve("sampler", "ddim").card.factory == "zoo.samplers.sampling:sample_ddim"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "Bad Name"}, "lower-case"),
        ({"factory": "no_colon"}, "package.module:function"),
        ({"downsample_factor": 3}, "power of two"),
        ({"in_channels": 0}, "positive int"),
        ({"intensity": "zscore"}, "minmax"),
        ({"sha256": "abc"}, "64 lower-case hex"),
    ],
)
def test_invalid_cards_are_rejected_with_a_reason(kwargs, message):
    base = {"name": "ok-name", "factory": "pkg.mod:fn"}
    with pytest.raises(CardError, match=message):
        AutoencoderCard(**{**base, **kwargs})


def test_pretrained_without_default_weights_is_an_error():
    with pytest.raises(ValueError, match="has no default weights"):
        zoo.build_autoencoder("kl-f4")


def test_card_round_trips_to_json_friendly_dict():
    data = zoo.get_card("autoencoder", "medvae-4-3").to_dict()
    assert data["kind"] == "autoencoder" and data["aliases"] == ["medvae"]
    assert data["config"]["block_out_channels"] == [128, 256, 512]
