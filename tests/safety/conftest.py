"""Fixtures of the folder-safety tests: one tiny saved pipeline, copied for each test to tamper with."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def saved_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved pipeline folder: narrowed zoo-demo-f4 VAE + tiny UNet, random weights, 1-step DDIM."""
    import zoo

    pipe = zoo.build_pipeline(
        vae="zoo-demo-f4", denoiser="unet", sampler="ddim", steps=1, scale=4, pretrained=False,
        conditioning="bicubic-latent", residual=True, hr_size=64,
        vae_config={"block_out_channels": [8, 8, 16], "norm_num_groups": 4},
        denoiser_config={"preset": "tiny"},
    )
    folder = tmp_path_factory.mktemp("safety") / "pipeline"
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture
def pipeline_copy(saved_pipeline: Path, tmp_path: Path) -> Path:
    """A private copy of the saved pipeline, free to tamper with (inside ``tmp_path / "share"``)."""
    dst = tmp_path / "share" / "pipeline"
    shutil.copytree(saved_pipeline, dst)
    return dst
