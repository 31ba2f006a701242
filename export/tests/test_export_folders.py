"""Issue #26: an export folder never crashes or hangs zoo-export: bad files are one line, exit 2."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from zoo_export.cli import main
from zoo_export.manifest import sha256_file

import zoo
from tests.cli_checks import one_error_line
from tests.safety.hang import within
from zoo.errors import ZooError

pytestmark = pytest.mark.filterwarnings("ignore:Constant folding")


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real export (TorchScript exporter: fast) of a small saved pipeline, with its ``pipeline/`` copy."""
    from export_helpers import small_export

    return small_export(tmp_path_factory.mktemp("folders"))


@pytest.fixture
def export_copy(export_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "share" / "export"
    shutil.copytree(export_dir, dst)
    return dst


def _rehash(root: Path, rel: str) -> None:
    """List ``rel``'s current sha256 wherever the manifest lists it (so the check reached is the next one)."""
    manifest = json.loads((root / "manifest.json").read_text())
    sha = sha256_file(root / rel)
    for files in [manifest["files"], *(s["files"] for s in manifest["stages"].values())]:
        if rel in files:
            files[rel] = sha
    (root / "manifest.json").write_text(json.dumps(manifest))


def _onnx_of(root: Path, stage: str) -> str:
    return json.loads((root / "manifest.json").read_text())["stages"][stage]["onnx"]


def test_an_unparsable_onnx_listed_with_its_sha256_is_one_line(export_copy: Path) -> None:
    rel = _onnx_of(export_copy, "decoder")
    (export_copy / rel).write_bytes(b"\x08\x07not an onnx model at all\xff\xff")
    _rehash(export_copy, rel)
    for command in ("validate", "info"):
        res = CliRunner().invoke(main, [command, str(export_copy)])
        if command == "validate":
            one_error_line(res, rel, "not a readable ONNX file", prog="zoo-export")
    with pytest.raises(ZooError, match="not a readable ONNX file"):
        zoo.load_pipeline(export_copy, backend="onnxruntime")


@pytest.mark.parametrize("command", ["info", "validate"])
def test_a_deeply_nested_manifest_is_one_line(export_copy: Path, command: str) -> None:
    (export_copy / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    res = CliRunner().invoke(main, [command, str(export_copy)])
    one_error_line(res, "manifest.json", "nested 100000 levels deep", prog="zoo-export")


def test_a_deep_but_parsable_manifest_is_refused_too(export_copy: Path) -> None:
    manifest = json.loads((export_copy / "manifest.json").read_text())
    deep: list = []
    for _ in range(40):
        deep = [deep]
    manifest["notes"] = deep
    (export_copy / "manifest.json").write_text(json.dumps(manifest))
    one_error_line(CliRunner().invoke(main, ["info", str(export_copy)]), "nested 4", prog="zoo-export")


def test_an_export_pipeline_json_is_architecture_only(export_copy: Path) -> None:
    data = json.loads((export_copy / "pipeline.json").read_text())
    data["sampler"]["config"]["weights"] = "/etc/passwd"
    (export_copy / "pipeline.json").write_text(json.dumps(data))
    _rehash(export_copy, "pipeline.json")
    with pytest.raises(ZooError, match=r"sampler\.config\.weights: names a file"):
        zoo.load_pipeline(export_copy, backend="onnxruntime")


@pytest.mark.parametrize("name", ["manifest.json", "pipeline.json", "ONNX"])
def test_a_fifo_in_an_export_is_refused_without_blocking(export_copy: Path, name: str) -> None:
    rel = _onnx_of(export_copy, "encoder") if name == "ONNX" else name
    (export_copy / rel).unlink()
    os.mkfifo(export_copy / rel)
    error = within(20, lambda: zoo.load_pipeline(export_copy, backend="onnxruntime"), [export_copy / rel])
    assert isinstance(error, ZooError) and "\n" not in str(error), error
    assert "not a regular file" in str(error), error


def _rehash_if_listed(root: Path, rel: str) -> None:
    """Re-list ``rel``'s sha256 when it is still a readable regular file (so damage inside it is reached)."""
    path = root / rel
    if rel != "manifest.json" and path.is_file() and not path.is_symlink():
        _rehash(root, rel)


def test_a_damaged_export_opens_or_is_one_line(export_dir: Path) -> None:
    """Property (hypothesis): one damaged file of an export (types, nesting, sizes, FIFOs, symlinks leading
    outside, missing files; re-hashed or not) opens, or fails in one ZooError line, in time, writing nothing."""
    pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.safety.mutations import mutations
    from tests.safety.test_folder_fuzz import LIMIT_S, _listing

    onnx = [_onnx_of(export_dir, stage) for stage in ("encoder", "denoiser", "decoder")]
    json_files = ["manifest.json", "pipeline.json", "pipeline/zoo_pipeline.json"]
    json_files = [name for name in json_files if (export_dir / name).is_file()]

    @settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data: st.DataObject) -> None:
        mutation = data.draw(mutations(export_dir, json_files, onnx))
        rehash = data.draw(st.booleans())
        with tempfile.TemporaryDirectory(prefix="zoo-fuzz-") as tmp:
            folder, outside = Path(tmp) / "share" / "export", Path(tmp) / "outside"
            shutil.copytree(export_dir, folder, symlinks=True)
            outside.mkdir()
            fifo = mutation.apply(folder, outside)
            if rehash:
                _rehash_if_listed(folder, mutation.file)
            before = _listing(Path(tmp))
            error = within(LIMIT_S, lambda: zoo.load_pipeline(folder, backend="onnxruntime"), [fifo] if fifo else [])
            if error is not None:
                assert isinstance(error, ZooError), f"{mutation}: {type(error).__name__}: {error}"
                assert "\n" not in str(error) and str(error), f"{mutation}: {error!r}"
            assert _listing(Path(tmp)) == before, f"{mutation}: something was written"

    run()
