"""An export folder is data: every file it reads is hashed in the manifest, and nothing leaves the folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from zoo_export.manifest import ManifestError, sha256_file

import zoo
from zoo.folders.paths import FolderPathError

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore:Constant folding")  # the TorchScript exporter's, harmless


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real export (TorchScript exporter: fast) of a small saved pipeline, with its ``pipeline/`` copy."""
    from export_helpers import small_export

    return small_export(tmp_path_factory.mktemp("tamper"))


@pytest.fixture
def export_copy(export_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "share" / "export"
    shutil.copytree(export_dir, dst)
    return dst


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def _edit_manifest(root: Path, change) -> None:
    data = _manifest(root)
    change(data)
    (root / "manifest.json").write_text(json.dumps(data, indent=2))


def _edit_json(root: Path, name: str, change) -> None:
    """Change a JSON file of the export and re-hash it in the manifest (so the check reached is the next one)."""
    data = json.loads((root / name).read_text())
    change(data)
    (root / name).write_text(json.dumps(data))
    _edit_manifest(root, lambda m: m["files"].update({name: sha256_file(root / name)}))


def _refused(root: Path, error: type[Exception], match: str | None) -> str:
    with pytest.raises(error, match=match) as info:
        zoo.load_pipeline(root)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_the_manifest_hashes_every_file_the_export_reads(export_dir: Path) -> None:
    files = _manifest(export_dir)["files"]
    on_disk = sorted(p.relative_to(export_dir).as_posix() for p in export_dir.rglob("*") if p.is_file())
    assert sorted(files) == [f for f in on_disk if f != "manifest.json"]
    assert {"pipeline.json", "pipeline/zoo_pipeline.json", "encoder/model.onnx"} <= set(files)
    assert all(sha256_file(export_dir / rel) == sha for rel, sha in files.items())
    pipe = zoo.load_pipeline(export_dir)
    assert pipe.vae.card.name == "medvae-4-3" and pipe.vae.card.factory == "zoo_export.pipelines:not_rebuildable"


@pytest.mark.parametrize("name", ["decoder/model.onnx", "pipeline.json", "pipeline/zoo_pipeline.json"])
def test_a_changed_file_is_refused(export_copy: Path, name: str) -> None:
    path = export_copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert name in _refused(export_copy, ManifestError, "sha256 .* does not match")


@pytest.mark.parametrize("name", ["pipeline.json", "pipeline/zoo_pipeline.json", "denoiser/model.onnx"])
def test_a_file_missing_from_the_manifest_is_refused(export_copy: Path, name: str) -> None:
    def drop(m: dict) -> None:
        m["files"].pop(name)
        for stage in m["stages"].values():
            stage["files"].pop(name, None)

    _edit_manifest(export_copy, drop)
    _refused(export_copy, ManifestError, f"files: '{name}' is read by the export but not listed")


def test_an_unlisted_file_added_to_the_export_is_refused(export_copy: Path) -> None:
    (export_copy / "pipeline" / "extra.json").write_text("{}")
    _refused(export_copy, ManifestError, "'pipeline/extra.json' is read by the export but not listed")


def test_empty_file_list_is_refused(export_copy: Path) -> None:
    _edit_manifest(export_copy, lambda m: m.update(files={}))
    _refused(export_copy, ManifestError, "files: empty")


def test_old_manifests_without_a_full_file_list_are_refused(export_copy: Path) -> None:
    _edit_manifest(export_copy, lambda m: (m.pop("files"), m.update(format_version=1)))
    _refused(export_copy, ManifestError, "manifest format 1 is not supported .* re-export")


@pytest.mark.parametrize("field", ["files", "stages.encoder.onnx", "stages.encoder.files", "engine"])
def test_paths_leading_outside_an_export_are_refused(export_copy: Path, field: str) -> None:
    outside = export_copy.parent / "elsewhere"
    shutil.copytree(export_copy / "encoder", outside)  # a valid ONNX file that would load silently
    rel = "../elsewhere/model.onnx"
    sha = sha256_file(outside / "model.onnx")

    def change(m: dict) -> None:
        stage = m["stages"]["encoder"]
        if field == "files":
            m["files"][rel] = sha
        elif field == "stages.encoder.onnx":
            stage["onnx"] = rel
        elif field == "stages.encoder.files":
            stage["files"][rel] = sha
        else:
            stage["engine"] = {"file": rel, "sha256": sha}

    _edit_manifest(export_copy, change)
    message = _refused(export_copy, FolderPathError, "leads outside the folder")
    assert repr(rel) in message


@pytest.mark.parametrize("name", ["pipeline.json", "encoder/model.onnx", "pipeline"])
def test_symlinks_leading_outside_an_export_are_refused(export_copy: Path, name: str) -> None:
    target = export_copy.parent / "elsewhere" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(export_copy / name), str(target))  # same content (hashes match): only the place differs
    (export_copy / name).symlink_to(target)
    _refused(export_copy, FolderPathError, "leads outside the folder")


@pytest.mark.parametrize("file, change, expected", [
    ("manifest.json", lambda m: m.update(status=3), 'status: expected one of "ok", "failed", got 3'),
    ("manifest.json", lambda m: m.update(surprise=True), "surprise: unknown key"),
    ("manifest.json", lambda m: m["stages"].pop("decoder"), "stages.decoder: missing"),
    ("manifest.json", lambda m: m["files"].update({"pipeline.json": "0" * 63}), "expected a sha256"),
    ("pipeline.json", lambda p: p.update(steps="ten"), 'steps: expected a positive integer or null, got "ten"'),
    ("pipeline.json", lambda p: p.update(scale=-2), "scale: expected a positive integer, got -2"),
    ("pipeline.json", lambda p: p["vae"]["card"].update(factory="subprocess:run"), "vae.card.factory: unknown key"),
    ("pipeline.json", lambda p: p["sampler"].update(name="os:system"), "sampler.name: no sampler named 'os:system'"),
])
def test_wrong_json_in_an_export_names_the_field(export_copy: Path, file: str, change, expected: str) -> None:
    if file == "manifest.json":
        _edit_manifest(export_copy, change)
    else:
        _edit_json(export_copy, file, change)
    message = _refused(export_copy, zoo.errors.ZooError, None)
    assert f"{file}: " in message and expected in message, message


def test_cli_refuses_a_tampered_export_in_one_line(export_copy: Path, tmp_path: Path) -> None:
    import numpy as np

    from zoo.cli import main

    _edit_manifest(export_copy, lambda m: m.update(files={}))
    image = tmp_path / "x.npy"
    np.save(image, np.zeros((16, 16), np.float32))
    res = CliRunner().invoke(main, ["sr", str(image), "--pipeline", str(export_copy), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.output.strip().count("\n") == 0, res.output
    assert res.output.startswith("zoo: error:") and "files: empty" in res.output


def test_zoo_export_refuses_a_hostile_pipeline_in_one_line(tmp_path: Path) -> None:
    from export_helpers import small_pipeline

    folder = tmp_path / "pipe"
    small_pipeline().save_pretrained(folder)
    card_file = folder / "vae" / "zoo_autoencoder.json"
    data = json.loads(card_file.read_text())
    marker = tmp_path / "marker"
    card = {**data["card"], "factory": "subprocess:run", "config": {"args": ["touch", str(marker)]}}
    card_file.write_text(json.dumps({"format": "zoo-autoencoder", "format_version": 1, "card": card}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "export"),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "zoo_export", "--pipeline", str(folder), "--size", "32",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith("zoo-export: error:")
    assert "refusing to run it" in proc.stderr or "holds architecture only" in proc.stderr  # the config's path
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_verified_onnx_file_is_parsed_once_per_content(export_copy: Path, tmp_path: Path) -> None:
    """The external-data scan of an ONNX file is remembered per sha256 in the private cache: a second check
    of the same export imports no onnx (it is what a cached ``backend="auto"`` run spends its start on)."""
    env = {**os.environ, "ZOO_CACHE": str(tmp_path / "cache")}
    check = ("import sys; from zoo_export.manifest import verify_export; verify_export(sys.argv[1]); "
             "print('onnx' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", check, str(export_copy)], env=env, capture_output=True,
                           text=True, check=True).stdout.split()[-1] for _ in range(2)]
    assert runs == ["True", "False"]
    memo = list((tmp_path / "cache" / "onnx-external-data").iterdir())
    onnx_names = {s["onnx"] for s in _manifest(export_copy)["stages"].values()}
    assert {p.stem for p in memo} == {sha256_file(export_copy / name) for name in onnx_names}


def test_an_onnx_file_rewritten_to_read_unlisted_external_data_is_refused(export_copy: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Even after the folder was verified once (its scans remembered), a model rewritten to read an external
    data file, with its new sha256 put into the manifest, is refused: the new content is scanned anew."""
    import onnx
    from zoo_export.manifest import verify_export

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    verify_export(export_copy)
    model_path = export_copy / "decoder" / "model.onnx"
    model = onnx.load(str(model_path))
    onnx.save_model(model, str(model_path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    digest = sha256_file(model_path)

    def rehash(m: dict) -> None:
        m["files"]["decoder/model.onnx"] = digest
        for stage in m["stages"].values():
            if "decoder/model.onnx" in stage["files"]:
                stage["files"]["decoder/model.onnx"] = digest

    _edit_manifest(export_copy, rehash)
    with pytest.raises(ManifestError, match="'decoder/weights.bin' is read by the export but not listed"):
        verify_export(export_copy)
