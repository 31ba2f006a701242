"""Fixtures of the folder-safety tests: one tiny saved pipeline, copied for each test to tamper with."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli_checks import save_tiny_pipeline


@pytest.fixture(scope="session")
def saved_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved pipeline folder: narrowed zoo-demo-f4 VAE + tiny UNet, random weights, 1-step DDIM."""
    return save_tiny_pipeline(tmp_path_factory.mktemp("safety") / "pipeline")


@pytest.fixture
def pipeline_copy(saved_pipeline: Path, tmp_path: Path) -> Path:
    """A private copy of the saved pipeline, free to tamper with (inside ``tmp_path / "share"``)."""
    dst = tmp_path / "share" / "pipeline"
    shutil.copytree(saved_pipeline, dst)
    return dst
