"""Fixtures of the zoo-export tests: small configs of the real architectures, one shared export."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory):
    """(pipeline, folder): a small medvae-4-3 pipeline exported to ONNX (fp32) once per session."""
    from export_helpers import small_pipeline
    from zoo_export.exporter import ExportOptions, export_pipeline

    pipe = small_pipeline()
    out = tmp_path_factory.mktemp("export") / "medvae"
    export_pipeline(pipe, out, ExportOptions(size=32))
    return pipe, out


@pytest.fixture
def exported_copy(exported, tmp_path: Path) -> Path:
    """A private copy of the shared export, free to tamper with."""
    dst = tmp_path / "copy"
    shutil.copytree(exported[1], dst)
    return dst
