"""A tiny latent SR run end to end: autoencoder -> denoiser -> saved pipeline -> SR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from tests.train.helpers import tiny_autoencoder_config, tiny_denoiser_config
from zoo.train.config import config_from_dict, load_config
from zoo.train.logs import read_metrics
from zoo.train.loop import train


@pytest.fixture(scope="module")
def tiny_vae(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vae")
    return train(config_from_dict(tiny_autoencoder_config(prepared, out / "run", max_steps=2)), progress=False)


def test_denoiser_run_saves_a_pipeline_with_latent_stats(prepared: Path, tiny_vae: Path, tmp_path: Path) -> None:
    import zoo
    from zoo.train.denoiser_task import build_training_pipeline

    cfg = config_from_dict(tiny_denoiser_config(prepared, tiny_vae, tmp_path / "run"))
    result = train(cfg, progress=False)
    pipe = zoo.load_pipeline(result)
    assert (pipe.conditioning, pipe.residual, pipe.num_steps) == ("bicubic-latent", True, 2)
    # latent stats were measured on the training HR latents (not the identity)
    assert not torch.equal(pipe.latent_stats.std, torch.ones_like(pipe.latent_stats.std))
    # the denoiser was trained (differs from a fresh init with the same seed)
    torch.manual_seed(cfg.seed)
    fresh = build_training_pipeline(cfg, torch.device("cpu")).denoiser.state_dict()
    trained = pipe.denoiser.state_dict()
    assert any(not torch.equal(fresh[k], trained[k]) for k in fresh)
    sr = pipe(torch.rand(2, 1, 8, 8), seed=0)
    assert sr.shape == (2, 1, 32, 32)
    keys = {r["key"] for r in read_metrics(tmp_path / "run" / "logs")}
    assert {"loss", "lr", "val_psnr", "val_psnr_bicubic"} <= keys
    card = (Path(result) / "README.md").read_text()
    assert f"{prepared.name} (a `zoo prepare` folder), split 'train'" in card


def test_a_run_on_the_bundled_samples_names_them_in_the_card(tiny_vae: Path, tmp_path: Path) -> None:
    """``zoo-asset:samples/prepared`` is resolved to a path before training: the card still names the samples."""
    config = tiny_denoiser_config(Path("unused"), tiny_vae, tmp_path / "run", max_steps=1, val_every=1)
    config["data"].update(root="zoo-asset:samples/prepared", max_val=1)
    config["pipeline"].update(denoiser="resconv", denoiser_config={"preset": "tiny"})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    card = (Path(train(load_config(tmp_path / "run.yaml"), progress=False)) / "README.md").read_text()
    assert "zoo's bundled samples (zoo/assets/samples" in card and "a `zoo prepare` folder" not in card


def test_denoiser_run_from_a_latent_cache(prepared: Path, tiny_vae: Path, tmp_path: Path) -> None:
    from zoo.autoencoders.loading import autoencoder_from_path
    from zoo.data.encode import encode_dataset

    vae = autoencoder_from_path(tiny_vae)
    cache = tmp_path / "cache"
    encode_dataset(prepared, cache, vae, vae.card.name)
    raw = tiny_denoiser_config(prepared, tiny_vae, tmp_path / "run", max_steps=2, val_every=100)
    raw["data"]["latents"] = str(cache)
    result = train(config_from_dict(raw), progress=False)
    saved = json.loads((result / "zoo_pipeline.json").read_text())
    assert saved["conditioning"] == "bicubic-latent" and saved["latent_stats"]["std"]
