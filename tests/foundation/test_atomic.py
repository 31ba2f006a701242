"""Atomic writes give every file the usual permissions, whatever wrote it (safetensors writes 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import torch
from safetensors.torch import save_file

from zoo.atomic import atomic_dir, atomic_path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _usual() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def test_safetensors_written_in_atomic_paths_get_the_usual_permissions(tmp_path):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    assert _mode(tmp_path / "plain.safetensors") == 0o600  # what safetensors does on its own: the test can fail
    with atomic_path(tmp_path / "one.safetensors") as tmp:
        save_file({"w": torch.zeros(2)}, str(tmp))
    with atomic_dir(tmp_path / "folder") as tmp:
        save_file({"w": torch.zeros(2)}, str(tmp / "w.safetensors"))
        (tmp / "sub").mkdir()
        (tmp / "sub" / "meta.json").write_text("{}")
        (tmp / "run.sh").write_text("#!/bin/sh\n")
        os.chmod(tmp / "run.sh", 0o700)
    assert _mode(tmp_path / "one.safetensors") == _usual()
    assert _mode(tmp_path / "folder" / "w.safetensors") == _mode(tmp_path / "folder" / "sub" / "meta.json") == _usual()
    assert _mode(tmp_path / "folder" / "run.sh") & 0o100  # executable bits are kept


def test_saved_pipeline_weights_have_the_json_permissions(tmp_path):
    from tests.pipeline.conftest import tiny_pipeline

    tiny_pipeline("zoo-demo-f4").save_pretrained(tmp_path / "run")
    files = sorted(p for p in (tmp_path / "run").rglob("*") if p.is_file())
    assert any(p.suffix == ".safetensors" for p in files) and any(p.suffix == ".json" for p in files)
    assert {_mode(p) for p in files} == {_usual()}
