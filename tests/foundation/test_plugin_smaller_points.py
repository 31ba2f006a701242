"""The smaller points an outside plugin author tripped on (issue #25)."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest
from safetensors.torch import save_file

import zoo
from tests.foundation.conftest import zoo_cli
from zoo.autoencoders.describe import weight_status
from zoo.autoencoders.state import StateDictMismatchError
from zoo.registry import register


def test_printing_the_options_does_not_print_the_schedule_values():
    text = repr(zoo.PipelineConfig())
    assert "NoiseSchedule(name='cosine'" in text and "num_timesteps=1000" in text and len(text) < 400


def test_the_autoencoder_protocol_documents_itself():
    assert "Any autoencoder seen by zoo (KL, VQ or deterministic)" in inspect.getdoc(zoo.Autoencoder)
    init = inspect.getdoc(zoo.Autoencoder.__init__)
    assert "super().__init__()" in init and "Initialize internal Module state" not in init
    assert zoo.Autoencoder.receptive_radius is None


@pytest.mark.parametrize(("weights", "says"), [
    ("package:zoo/no-such-folder/w.safetensors", "missing from the installed package"),
    ("package:no_such_zoo_plugin/w.safetensors", "not available ("),
    ("hf:no-owner/no-repo/w.safetensors", "not downloaded"),
    ("/no/such/file.safetensors", "file not found"),
])
def test_weight_status_says_why_weights_are_missing(weights, says):
    card = zoo.DenoiserCard(name="d", factory="zoo.denoisers.resconv:build_resconv", weights=weights)
    assert says in weight_status(card)


def test_zoo_info_shows_a_denoisers_weight_status_and_parameters():
    out = zoo_cli(["info", "resconv", "--json"])
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["weight_status"].startswith("no default weights") and int(data["parameters"].replace(",", "")) > 0
    assert "install" not in data  # zoo's own components: nothing to install


def test_overriding_an_autoencoders_architecture_with_default_weights_says_pretrained_false(tmp_path):
    base = zoo.get_card("autoencoder", "zoo-demo-f4")
    small = {**base.config, "block_out_channels": [8, 8, 16], "norm_num_groups": 4}
    ae = zoo.build_autoencoder(base, pretrained=False, **small)
    save_file({k: v.contiguous() for k, v in ae.vae.state_dict().items()}, str(tmp_path / "w.safetensors"))
    register(dataclasses.replace(base, name="ae-override-test", weights=str(tmp_path / "w.safetensors"),
                                 sha256=None, config=small), override=True)
    zoo.build_autoencoder("ae-override-test")  # the card's own config: fits
    with pytest.raises(StateDictMismatchError, match="pass pretrained=False") as err:
        zoo.build_autoencoder("ae-override-test", block_out_channels=[8, 8, 8])
    assert "\n" not in str(err.value)
    assert zoo.build_autoencoder("ae-override-test", pretrained=False, block_out_channels=[8, 8, 8]) is not None
