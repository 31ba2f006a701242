"""Cards accept what people write (any sequence, a URL string) and say what a wrong field should look like."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.cards import AutoencoderCard, BackendCard, CardError, DenoiserCard, SamplerCard

BASE = {"name": "my-vae", "factory": "my_plugin.model:build"}


def test_sequences_become_tuples_and_a_url_string_is_a_source():
    card = AutoencoderCard(**BASE, modality=["MR", "CT"], aliases=["my-alias"], source="https://example.org/my-vae",
                           weights=Path("/weights/vae.safetensors"), version=2)
    assert card.modality == ("MR", "CT") and card.aliases == ("my-alias",)
    assert card.source == {"url": "https://example.org/my-vae"}
    assert card.weights == "/weights/vae.safetensors" and card.version == "2"
    assert card == AutoencoderCard(**BASE, modality=("MR", "CT"), aliases=("my-alias",),
                                   source={"url": "https://example.org/my-vae"}, weights="/weights/vae.safetensors",
                                   version="2")
    data = json.loads(json.dumps(card.to_dict()))
    assert data["modality"] == ["MR", "CT"] and data["source"] == {"url": "https://example.org/my-vae"}
    backend = BackendCard(name="my-rt", factory="my_rt:make", devices=["cpu", "cuda"], requires=["onnxruntime"])
    assert backend.devices == ("cpu", "cuda") and backend.requires == ("onnxruntime",)


@pytest.mark.parametrize(
    "cls, kwargs, field, example",
    [
        (AutoencoderCard, {"modality": "MR"}, "modality", 'modality=["MR", "CT"]'),
        (AutoencoderCard, {"modality": ["MR", 1]}, "modality", 'modality=["MR", "CT"]'),
        (AutoencoderCard, {"aliases": "medvae"}, "aliases", 'aliases=["medvae"]'),
        (AutoencoderCard, {"source": ["https://a.org"]}, "source", 'source={"paper": '),
        (AutoencoderCard, {"source": {"code": 3}}, "source", 'source={"paper": '),
        (AutoencoderCard, {"config": [1, 2]}, "config", "config={"),
        (AutoencoderCard, {"sha256": "ABC"}, "sha256", "sha256sum"),
        (AutoencoderCard, {"downsample_factor": 6}, "downsample_factor", "downsample_factor=8"),
        (AutoencoderCard, {"in_channels": "1"}, "in_channels", "in_channels=1"),
        (AutoencoderCard, {"intensity": "zscore"}, "intensity", 'intensity="minmax"'),
        (AutoencoderCard, {"fp16_safe": "yes"}, "fp16_safe", "fp16_safe=True"),
        (AutoencoderCard, {"weights": 3}, "weights", "package:my_plugin/"),
        (AutoencoderCard, {"factory": "my_plugin.model.build"}, "factory", 'factory="my_plugin.model:build"'),
        (AutoencoderCard, {"license": None}, "license", 'license="MIT"'),
        (DenoiserCard, {"prediction_type": "epsilon"}, "prediction_type", 'prediction_type="x0"'),
        (SamplerCard, {"default_steps": 0}, "default_steps", "default_steps=50"),
        (BackendCard, {"devices": "cuda"}, "devices", 'devices=["cpu", "cuda"]'),
    ],
)
def test_wrong_fields_are_named_with_an_example(cls, kwargs, field, example):
    with pytest.raises(CardError) as err:
        cls(**{**BASE, **kwargs})
    message = str(err.value)
    assert f"{field} must be" in message and example in message and "'my-vae'" in message
