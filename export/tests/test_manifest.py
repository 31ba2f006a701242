"""Manifests are checked before anything is loaded: sha256, writer release, engine target."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from zoo_export.cli import main
from zoo_export.manifest import ManifestError, load_manifest, verify_export


def _edit(root, change) -> None:
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.slow  # uses the session's exported folder
def test_manifest_records_what_was_checked(exported) -> None:
    _, root = exported
    manifest = verify_export(root)
    assert manifest["backend"] == "onnxruntime" and manifest["status"] == "ok"
    for stage in manifest["stages"].values():
        assert stage["parity"]["passed"] and set(stage["parity"]["batches"]) == {"1", "3"}
        assert stage["opset"] >= 17 and stage["files"]
    assert manifest["end_to_end"]["delta_psnr_db"] <= 0.01
    assert manifest["source"]["vae"] == "medvae-4-3" and manifest["source"]["denoiser"] == "unet"


@pytest.mark.slow  # uses the session's exported folder
def test_tampered_file_is_refused(exported_copy) -> None:
    onnx_file = exported_copy / "decoder" / "model.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[-1] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="sha256"):
        verify_export(exported_copy)
    result = CliRunner().invoke(main, ["validate", str(exported_copy)])
    assert result.exit_code == 2 and "decoder" in result.output


@pytest.mark.slow  # uses the session's exported folder
def test_tampered_sha_in_manifest_is_refused(exported_copy) -> None:
    _edit(exported_copy, lambda m: m["stages"]["encoder"]["files"].update({"encoder/model.onnx": "0" * 64}))
    with pytest.raises(ManifestError, match="encoder"):
        verify_export(exported_copy)


@pytest.mark.slow  # uses the session's exported folder
def test_other_zoo_export_release_is_refused(exported_copy) -> None:
    _edit(exported_copy, lambda m: m.update(zoo_export_version="9.3.0"))
    with pytest.raises(ManifestError, match="9.3.0"):
        load_manifest(exported_copy)


@pytest.mark.slow  # uses the session's exported folder
def test_failed_stage_is_not_loaded(exported_copy) -> None:
    _edit(exported_copy, lambda m: m["stages"]["denoiser"].update(status="failed", error="forced"))
    with pytest.raises(ManifestError, match="denoiser"):
        verify_export(exported_copy)
    assert verify_export(exported_copy, require_ok=False)["stages"]["denoiser"]["status"] == "failed"
