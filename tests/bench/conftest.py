"""Fixtures of the ``zoo bench`` tests: a tiny configuration and the field paths docs/bench.md documents."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "bench.md"

# The smallest real configuration: the 0.65 M-parameter demo VAE (random weights), a tiny UNet,
# 8x8 LR -> 32x32 HR, one timed call, two sampler steps.
TINY = ["--vae", "zoo-demo-f4", "--untrained", "--denoiser-preset", "tiny", "--size", "32",
        "--runs", "1", "--warmup", "0", "--steps", "2"]


def run_bench(tmp_path: Path, *args: str) -> tuple[dict, str]:
    """Run ``zoo bench`` in-process with --json/--markdown into ``tmp_path``; returns (report, markdown)."""
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    result = CliRunner().invoke(main, ["bench", *args, "--json", str(out_json), "--markdown", str(out_md)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(out_json.read_text()), out_md.read_text()


def documented_paths() -> list[str]:
    """Field paths in the first column of docs/bench.md's schema tables, e.g. ``results[].stages.<stage>.min_ms``.

    A cell may list several paths; one starting with ``.`` continues the first path's parent.
    """
    text = DOCS.read_text().split("## The JSON report", 1)[1].split("## The pytest-benchmark", 1)[0]
    paths = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        names = re.findall(r"`([^`]+)`", cell)
        base = names[0].rsplit(".", 1)[0] if "." in names[0] else ""
        for name in names:
            paths.append(base + name if name.startswith(".") else name)
    return paths


def lookup(report: dict, path: str, stage: str) -> list:
    """Values at ``path`` (``[]`` = every list item, ``<stage>`` = ``stage``); raises KeyError if missing."""
    values = [report]
    for part in path.replace("<stage>", stage).split("."):
        is_list = part.endswith("[]")
        key = part.removesuffix("[]")
        values = [v[key] for v in values]
        if is_list:
            values = [item for v in values for item in v]
    return values


@pytest.fixture(scope="session")
def doc_paths() -> list[str]:
    paths = documented_paths()
    assert len(paths) > 40, "docs/bench.md schema tables not found"
    return paths
