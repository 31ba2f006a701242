"""zoo.folders.guard and zoo.folders.atomic.atomic_dir: an output folder never costs the user data."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from zoo.errors import ZooError
from zoo.folders.atomic import atomic_dir
from zoo.folders.guard import OutputError, OutputExistsError, OutputNotWritableError, prepare_output


def _user_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("mine")
    (path / "sub").mkdir()
    (path / "sub" / "scan.png").write_bytes(b"not really a png")
    return path


def test_new_folder_passes_and_nothing_is_created(tmp_path):
    out = tmp_path / "a" / "b"
    assert prepare_output(out, will_write=["report.json"]) == out
    assert not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []  # the writability probe leaves nothing behind


def test_existing_non_empty_folder_needs_overwrite(tmp_path):
    out = _user_folder(tmp_path / "out")
    with pytest.raises(OutputExistsError, match="not empty.*notes.txt.*--overwrite") as info:
        prepare_output(out, will_write=["report.json"])
    assert isinstance(info.value, ZooError) and isinstance(info.value, FileExistsError)
    prepare_output(out, will_write=["report.json"], overwrite=True)
    (tmp_path / "empty").mkdir()
    prepare_output(tmp_path / "empty")
    # "files" mode (commands that add files to a folder): only an existing output file needs --overwrite
    prepare_output(out, will_write=["a.png"], existing="files")
    with pytest.raises(OutputExistsError, match="notes.txt already exist"):
        prepare_output(out, will_write=["notes.txt"], existing="files")


def test_inputs_are_never_outputs_even_with_overwrite(tmp_path):
    data = _user_folder(tmp_path / "data")
    with pytest.raises(OutputError, match="is also an input"):
        prepare_output(data, inputs=[data], overwrite=True, will_write=["report.json"])
    with pytest.raises(OutputError, match="would replace the input"):
        prepare_output(tmp_path, inputs=[data / "sub"], overwrite=True, will_write=["data"])
    with pytest.raises(OutputError, match="holds the input"):  # nothing named: nothing around an input
        prepare_output(tmp_path, inputs=[data / "notes.txt"], overwrite=True)
    # a new folder inside an input folder replaces nothing there
    prepare_output(data / "report", inputs=[data], will_write=["report.json"])
    assert sorted(p.name for p in data.iterdir()) == ["notes.txt", "sub"]


def test_out_under_a_regular_file_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(OutputNotWritableError, match="file.txt is a file"):
        prepare_output(blocker / "out")
    with pytest.raises(OutputError, match="not a folder"):
        prepare_output(blocker)


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder no one can write, root included: a read-only bind mount as root, mode 0555 otherwise."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mount = subprocess.run(f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}", shell=True,
                           capture_output=True, text=True)
    if mount.returncode != 0:
        subprocess.run(["umount", str(folder)], capture_output=True)
        pytest.skip(f"running as root without a way to make a read-only folder: {mount.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_read_only_folder_is_refused_by_a_real_write(read_only_dir):
    with pytest.raises(OutputNotWritableError, match="cannot write there"):
        prepare_output(read_only_dir / "out")
    with pytest.raises(OutputNotWritableError):
        prepare_output(read_only_dir)


def test_atomic_dir_new_folder_appears_whole(tmp_path):
    with atomic_dir(tmp_path / "new") as tmp:
        (tmp / "a.txt").write_text("a")
    assert [p.name for p in tmp_path.iterdir()] == ["new"]
    assert (tmp_path / "new" / "a.txt").read_text() == "a"


def test_atomic_dir_replaces_only_what_the_block_writes(tmp_path):
    out = _user_folder(tmp_path / "out")
    (out / "report.json").write_text("old")
    (out / "figures").mkdir()
    (out / "figures" / "stale.png").write_text("old figure")
    with atomic_dir(out) as tmp:
        (tmp / "report.json").write_text("new")
        (tmp / "figures").mkdir()
        (tmp / "figures" / "fresh.png").write_text("new figure")
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "sub" / "scan.png").read_bytes() == b"not really a png"
    assert (out / "report.json").read_text() == "new"
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["fresh.png"]  # an owned folder is replaced whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary or .old folder left


def test_atomic_dir_failure_changes_nothing(tmp_path):
    out = _user_folder(tmp_path / "out")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "notes.txt").write_text("clobbered")
        raise RuntimeError("boom")
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_dir_replace_all_swaps_the_folder(tmp_path):
    out = _user_folder(tmp_path / "last")
    with atomic_dir(out, replace_all=True) as tmp:
        (tmp / "state.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["state.json"]
