"""The shipped configs load, and the paper configs carry the paper's recipe (reference/paper.md §4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.train.config import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PAPER = sorted((CONFIGS / "paper").glob("*.yaml"))


def test_there_is_a_paper_config_per_latent_geometry() -> None:
    assert {p.stem for p in PAPER} == {"sd-vae", "kl-f4", "medvae-8-1", "medvae-8-4", "medvae-4-1", "medvae-4-3",
                                       "medvae-4-4"}


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_recipe(path: Path) -> None:
    from zoo.registry import get_card

    cfg = load_config(path)
    p, o = cfg.pipeline, cfg.optim
    get_card("autoencoder", p.vae)  # a registered geometry
    assert (p.denoiser, p.denoiser_config["preset"], p.loss, p.schedule, p.timesteps) == ("unet", "paper", "l1",
                                                                                            "cosine", 1000)
    assert get_card("denoiser", p.denoiser).prediction_type == "x0"
    assert (p.conditioning, p.residual, p.scale, p.hr_size) == ("lr-latent", False, 4, 256)
    assert (o.lr, o.weight_decay, o.batch_size, o.epochs, o.min_lr) == (1e-4, 0.01, 8, 100, 1e-6)
    assert (o.schedule, o.grad_clip, o.mixed_precision, o.ema, o.max_steps) == ("cosine-epoch", 1.0, "fp16", None,
                                                                               None)


@pytest.mark.parametrize("name", ["demo-autoencoder.yaml", "demo-denoiser.yaml"])
def test_demo_configs_train_on_the_bundled_samples(name: str) -> None:
    from zoo.data.samples import prepared_samples

    cfg = load_config(CONFIGS / name)
    assert Path(cfg.data.root) == prepared_samples()
    assert cfg.data.val_split == "val" and cfg.data.train_split == "train"  # the test split stays held out
