"""`zoo sr` launched as 2 CPU processes through Accelerate's launcher (issue #26, point 8): every input written
once, one complete manifest whose sha256 match the files, no per-rank leftovers.

The launcher is run as ``python -m accelerate.commands.launch``: the same code as the ``accelerate launch``
console script, without the CLI's eager ``import timm`` (which needs a torchvision matching torch)."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.data.samples import prepared_samples

ROOT = Path(__file__).resolve().parents[2]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow  # ~45 s on 2 busy cores: two processes, each importing torch and opening the pipeline
def test_accelerate_launch_two_cpu_processes_write_every_file_and_one_manifest(tmp_path):
    inputs = sorted((prepared_samples() / "lr").glob("*.png"))[:2]
    out = tmp_path / "sr"
    path = os.pathsep.join([str(ROOT), str(ROOT / "export"), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    run = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1", "--cpu",
         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "zoo", "sr", *map(str, inputs), "--out", str(out),
         "--self-ensemble", "1"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with open(out / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["id"] for r in rows) == sorted(p.stem for p in inputs)
    for row in rows:
        assert row["sha256"] == _sha256(out / row["output"])
    assert sorted(p.name for p in out.iterdir()) == sorted(["manifest.csv", *(p.name for p in inputs)])
