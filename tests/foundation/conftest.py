"""Fixtures that pip-install real plugin distributions into throw-away site folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "plugins"
EXAMPLE = ROOT / "plugins" / "zoo-example-vae"
GUIDE_EXAMPLES = [ROOT / "plugins" / name for name in ("zoo-example-ae", "zoo-example-denoiser", "zoo-example-sampler")]


def pip_install_target(target: Path, *packages: Path) -> Path:
    """``pip install --target`` real plugin packages (built from their pyproject) into ``target``."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "--disable-pip-version-check", "--target", str(target), *map(str, packages)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return target


def run_python(code: str, site: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that sees the plugins installed in ``site``."""
    environ = {k: v for k, v in os.environ.items() if k != "ZOO_STRICT_PLUGINS"}
    if site is not None:
        environ["PYTHONPATH"] = os.pathsep.join([str(site), environ.get("PYTHONPATH", "")])
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=300)


def zoo_cli(args: list[str], site: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    code = f"import sys; sys.argv = ['zoo', *{args!r}]; from zoo.cli import main; main()"
    return run_python(code, site, **env)


def listed(site: Path | None, **env: str) -> dict[str, dict]:
    out = zoo_cli(["list", "--json"], site, **env)
    assert out.returncode == 0, out.stderr
    return {f"{i['distribution']}:{i['name']}": i for i in json.loads(out.stdout)}


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pip_install_target(tmp_path_factory.mktemp("site-example"), EXAMPLE)


@pytest.fixture(scope="session")
def guide_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The autoencoder, denoiser and sampler plugins of docs/plugins.md, pip-installed."""
    return pip_install_target(tmp_path_factory.mktemp("site-guide"), *GUIDE_EXAMPLES)


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pip_install_target(
        tmp_path_factory.mktemp("site-broken"), FIXTURES / "zoo-broken-import", FIXTURES / "zoo-bad-card"
    )


@pytest.fixture(scope="session")
def collide_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pip_install_target(tmp_path_factory.mktemp("site-collide"), EXAMPLE, FIXTURES / "zoo-collide")


@pytest.fixture(scope="session")
def chatty_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin whose card module and factory module print to stdout when imported."""
    return pip_install_target(tmp_path_factory.mktemp("site-chatty"), FIXTURES / "zoo-chatty")
