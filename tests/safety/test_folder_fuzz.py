"""Property: however a shared pipeline, autoencoder or diffusers-config folder is damaged, opening it either
works or fails with one line (a ``ZooError``; ``zoo sr``: exit 2), never hangs and writes nothing.

Each example damages one file of a fresh copy of a tiny saved pipeline (:mod:`tests.safety.mutations`):
odd JSON types and sizes, deep nesting, keys naming files, FIFOs, symlinks leading outside, missing and
truncated files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hypothesis")  # in the test extra

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import zoo  # noqa: E402
from tests.safety.hang import within  # noqa: E402
from tests.safety.mutations import Mutation, mutations  # noqa: E402
from zoo.errors import ZooError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KINDS = {  # folder kind -> (JSON files, other files) it damages
    "saved-pipeline": (["zoo_pipeline.json"], ["denoiser.safetensors"]),
    "autoencoder": (["vae/zoo_autoencoder.json"], ["vae/diffusion_pytorch_model.safetensors"]),
    "diffusers-config": (["vae/config.json"], []),
}
LIMIT_S = 20.0


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``root`` with its size and mtime (symlinks not followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            out[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return out


def check_one(source: Path, mutation: Mutation) -> None:
    """Damage a copy of ``source`` with ``mutation``; opening it works or is one ZooError line, in time, and
    changes nothing on disk."""
    with tempfile.TemporaryDirectory(prefix="zoo-fuzz-") as tmp:
        share = Path(tmp) / "share"
        folder, outside = share / "pipeline", Path(tmp) / "outside"
        shutil.copytree(source, folder)
        outside.mkdir()
        fifo = mutation.apply(folder, outside)
        before = _listing(Path(tmp))
        error = within(LIMIT_S, lambda: zoo.load_pipeline(folder, backend="torch"), [fifo] if fifo else [])
        if error is not None:
            assert isinstance(error, ZooError), f"{mutation}: {type(error).__name__}: {error}"
            assert "\n" not in str(error) and str(error), f"{mutation}: {error!r}"
        assert _listing(Path(tmp)) == before, f"{mutation}: something was written"


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_damaged_folder_opens_or_is_one_line(saved_pipeline: Path, kind: str) -> None:
    json_files, other_files = KINDS[kind]

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data: st.DataObject) -> None:
        check_one(saved_pipeline, data.draw(mutations(saved_pipeline, json_files, other_files)))

    run()


@pytest.mark.parametrize("mutation", [
    pytest.param(Mutation("vae/config.json", "fifo"), id="fifo-config"),
    pytest.param(Mutation("zoo_pipeline.json", "add_key", ("denoiser", "config"), {"weights": "/etc/passwd"}),
                 id="weights-key", marks=pytest.mark.slow),  # in-process: test_folder_inputs.py
])
def test_zoo_sr_on_a_damaged_folder_is_one_line_exit_2(saved_pipeline: Path, tmp_path: Path,
                                                       mutation: Mutation) -> None:
    folder, outside = tmp_path / "share" / "pipeline", tmp_path / "outside"
    shutil.copytree(saved_pipeline, folder)
    outside.mkdir()
    fifo = mutation.apply(folder, outside)
    image = tmp_path / "in" / "x.npy"
    image.parent.mkdir()
    np.save(image, np.zeros((16, 16), np.float32))
    before = _listing(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    try:
        proc = subprocess.run([sys.executable, "-m", "zoo", "sr", str(image), "--pipeline", str(folder),
                               "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120)
    finally:
        if fifo is not None:
            from tests.safety.hang import unblock

            unblock([fifo])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("zoo: error:") and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert _listing(tmp_path) == before and not (tmp_path / "out").exists()
