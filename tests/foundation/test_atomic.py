"""Atomic writes give every file the usual permissions, whatever wrote it (safetensors writes 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import torch
from safetensors.torch import save_file

from zoo.folders.atomic import TEMP_PREFIX, atomic_dir, atomic_path, temp_name


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


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_atomic_temporaries_have_a_recognisable_name(tmp_path):
    with atomic_dir(tmp_path / "out") as tmp:
        assert tmp.name.startswith(f"{TEMP_PREFIX}{os.getpid()}-") and tmp.name.endswith("-out")
    with atomic_path(tmp_path / "w.safetensors") as tmp:
        assert tmp.name.startswith(f"{TEMP_PREFIX}{os.getpid()}-") and tmp.name.endswith("-w.safetensors")


def test_stale_temporaries_of_dead_runs_are_removed_by_the_next_write(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    dead = folder / f"{TEMP_PREFIX}{_dead_pid()}-abcd1234-last"  # what kill -9 during a checkpoint leaves
    dead.mkdir()
    (dead / "model.safetensors").write_bytes(b"partial")
    old_file = folder / f"{TEMP_PREFIX}{os.getpid()}-ffff0000-metrics.csv"  # a live pid, but days old
    old_file.write_text("x")
    os.utime(old_file, (1, 1))
    alive = folder / temp_name("other")  # a live process's temporary, just made: kept
    alive.mkdir()
    users = [folder / ".last.old", folder / ".zoo-tmp-notapid", folder / ".hidden"]
    for entry in users:
        entry.mkdir()
    with atomic_dir(folder / "last", replace_all=True) as tmp:
        (tmp / "model.safetensors").write_bytes(b"new")
    assert not dead.exists() and not old_file.exists()
    assert alive.is_dir() and all(entry.is_dir() for entry in users)
    assert (folder / "last" / "model.safetensors").read_bytes() == b"new"


def test_overwrite_never_deletes_a_user_entry_named_like_the_old_backup(tmp_path):
    out = tmp_path / "prepared"
    with atomic_dir(out) as tmp:
        (tmp / "hr").mkdir()
        (tmp / "hr" / "a.png").write_bytes(b"first")
    (out / ".hr.old").mkdir()
    (out / ".hr.old" / "mine.txt").write_text("the user's own")
    with atomic_dir(out) as tmp:  # what --overwrite does: hr/ is swapped, the old one kept aside until done
        (tmp / "hr").mkdir()
        (tmp / "hr" / "a.png").write_bytes(b"second")
    assert (out / ".hr.old" / "mine.txt").read_text() == "the user's own"
    assert (out / "hr" / "a.png").read_bytes() == b"second"
    assert sorted(p.name for p in out.iterdir()) == [".hr.old", "hr"]
