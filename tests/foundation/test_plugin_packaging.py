"""zoo's own and the example plugins' pyproject files build into wheels without setuptools warnings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.foundation.conftest import ROOT

PROJECTS = ["plugins/zoo-example-ae", "plugins/zoo-example-denoiser", "plugins/zoo-example-sampler",
            "plugins/zoo-example-vae", "export", "."]
_SKIP = shutil.ignore_patterns("build", "*.egg-info", ".venv", "__pycache__", ".git", "tests", "plugins", "export",
                               "benchmarks", "docs", "scripts", "configs", "runs")


def _build_wheel(project: Path, tmp: Path) -> tuple[Path, str]:
    """Build ``project`` (a copy, so its folder stays clean) into a wheel; (wheel, everything setuptools printed)."""
    src = tmp / "src"
    shutil.copytree(project, src, ignore=_SKIP)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # else: "byte-compiling disabled"
    code = f"from setuptools import build_meta; print(build_meta.build_wheel({str(tmp)!r}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return tmp / out.stdout.strip().splitlines()[-1], out.stdout + out.stderr


@pytest.mark.parametrize("project", PROJECTS)
def test_pyproject_builds_without_warnings(project: str, tmp_path: Path) -> None:
    wheel, log = _build_wheel(ROOT / project, tmp_path)
    warnings = [line for line in log.splitlines() if "warn" in line.lower() or "deprecat" in line.lower()]
    assert not warnings, "\n".join(warnings)
    with zipfile.ZipFile(wheel) as zf:
        metadata = next(zf.read(n).decode() for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: MIT" in metadata


def test_packaged_weights_are_in_the_wheel(tmp_path: Path) -> None:
    wheel, _ = _build_wheel(ROOT / "plugins/zoo-example-ae", tmp_path)
    assert "zoo_example_ae/weights/conv-ae-f8c8.safetensors" in zipfile.ZipFile(wheel).namelist()
