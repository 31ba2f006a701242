"""First steps of a Python user: the embedded default by name, hub ids without ``hf:``, the model card of an
untrained pipeline (issue #26, points 10 and smaller)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.assets import DEFAULT_PIPELINE_DIR
from zoo.pipeline.model_card import front_matter
from zoo.utils.random_init import UNTRAINED


def test_default_pipeline_is_the_embedded_default_and_runs_offline():
    import torch

    pipe, again = zoo.default_pipeline(), zoo.load_pipeline(DEFAULT_PIPELINE_DIR)
    assert pipe.options == again.options and pipe.scale == 4
    assert all(torch.equal(a, b) for a, b in zip(pipe.denoiser.state_dict().values(),
                                                 again.denoiser.state_dict().values(), strict=True))
    lr = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    sr = pipe([lr], seed=0, self_ensemble=1)[0]
    assert sr.shape == (64, 64) and sr.dtype == np.float32


@pytest.mark.parametrize("spec", ["owner/repo", "stanfordmimi/MedVAE@v1"])
def test_a_missing_folder_that_reads_like_a_hub_id_suggests_hf(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(zoo.ZooError, match=rf"not found \(for the Hugging Face hub, write 'hf:{spec}'\)"):
        zoo.load_pipeline(spec)


def test_a_missing_local_path_gets_no_hub_hint(tmp_path):
    with pytest.raises(zoo.ZooError) as err:
        zoo.load_pipeline(tmp_path / "nothing")
    assert str(err.value).endswith("pipeline folder not found")


def _tiny(pretrained: bool):
    vae_config = {"block_out_channels": [8, 8], "norm_num_groups": 4}
    return zoo.build_pipeline(vae="medvae-4-4", denoiser="unet", sampler="ddim", steps=1, pretrained=pretrained,
                              pretrained_denoiser=False, hr_size=32, vae_config=vae_config,
                              denoiser_config={"preset": "tiny"})


def test_an_untrained_pipelines_card_says_untrained_not_the_official_weights(tmp_path: Path):
    pipe = _tiny(pretrained=False)
    pipe.save_pretrained(tmp_path / "run")
    parts = front_matter((tmp_path / "run" / "README.md").read_text())["zoo"]["components"]
    assert parts["autoencoder"]["weights"] == UNTRAINED and parts["denoiser"]["weights"] == UNTRAINED
    assert zoo.get_card("autoencoder", "medvae-4-4").weights not in (tmp_path / "run" / "README.md").read_text()


def test_a_trained_component_is_no_longer_untrained(tmp_path: Path):
    import torch

    pipe = _tiny(pretrained=False)
    with torch.no_grad():
        next(pipe.denoiser.parameters()).add_(0.01)       # one training step's worth of change
    pipe.save_pretrained(tmp_path / "run")
    parts = front_matter((tmp_path / "run" / "README.md").read_text())["zoo"]["components"]
    assert parts["denoiser"].get("weights") != UNTRAINED and parts["autoencoder"]["weights"] == UNTRAINED


def test_the_embedded_defaults_card_is_not_called_untrained(tmp_path: Path):
    """Components loaded from a saved folder hold that folder's weights, never "untrained"."""
    zoo.default_pipeline().save_pretrained(tmp_path / "run")
    parts = front_matter((tmp_path / "run" / "README.md").read_text())["zoo"]["components"]
    assert parts["autoencoder"].get("weights") != UNTRAINED and parts["denoiser"].get("weights") != UNTRAINED
