"""The exported stages run the same SR as PyTorch: zoo.load_pipeline(EXPORT_DIR) and backend="onnxruntime"."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from export_helpers import small_pipeline
from zoo_export import validate
from zoo_export.exporter import ExportOptions, ExportValidationError, export_pipeline
from zoo_export.manifest import ManifestError, verify_export
from zoo_export.validate import psnr

import zoo

pytestmark = pytest.mark.slow  # each test exports or runs a pipeline on a shared 2-core CPU


def _same_sr(reference, exported, lr: torch.Tensor) -> None:
    a, b = reference(lr, seed=3), exported(lr, seed=3)
    hr = F.interpolate(lr, size=a.shape[-2:], mode="bicubic").clamp(0, 1)
    assert a.shape == b.shape
    assert (a - b).abs().max() < 1e-3
    assert abs(psnr(a, hr, 1.0) - psnr(b, hr, 1.0)) <= 0.01


def test_load_pipeline_of_export_matches_torch(exported) -> None:
    pipe, root = exported
    loaded = zoo.load_pipeline(root)
    assert type(loaded.runtime).__name__ == "OrtRuntime"
    lr = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    _same_sr(pipe, loaded, lr)
    _same_sr(pipe, loaded, torch.rand(1, 3, 24, 16, generator=torch.Generator().manual_seed(1)))  # other size


def test_onnxruntime_backend_in_build_pipeline(tmp_path) -> None:
    pipe = small_pipeline()
    backend = zoo.build_backend("onnxruntime", cache_dir=tmp_path, size=32)
    on_ort = zoo.SRPipeline(pipe.vae, pipe.denoiser, pipe.sampler, pipe.options, backend)
    assert type(on_ort.runtime).__name__ == "OrtRuntime"
    _same_sr(pipe, on_ort, torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(2)))


def test_failing_validation_writes_nothing_unless_forced(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(validate.STAGE_TOLERANCE, "fp32", {**validate.STAGE_TOLERANCE["fp32"], "denoiser": 0.0})
    pipe = small_pipeline()
    out = tmp_path / "out"
    with pytest.raises(ExportValidationError, match="denoiser"):
        export_pipeline(pipe, out, ExportOptions(size=32))
    assert not out.exists() and list(tmp_path.iterdir()) == []
    manifest = export_pipeline(pipe, out, ExportOptions(size=32, force=True))
    assert manifest["status"] == "failed" and manifest["stages"]["denoiser"]["status"] == "failed"
    assert json.loads((out / "manifest.json").read_text())["stages"]["encoder"]["status"] == "ok"
    with pytest.raises(ManifestError, match="denoiser"):
        verify_export(out)


def test_embedded_default_exports_and_runs_the_same_sr(tmp_path) -> None:
    """A bicubic-latent, residual, pixel-skip pipeline (the embedded default) through ONNX Runtime."""
    from zoo.assets import DEFAULT_PIPELINE_DIR

    pipe = zoo.load_pipeline(DEFAULT_PIPELINE_DIR)
    assert pipe.conditioning == "bicubic-latent" and pipe.pixel_skip
    out = tmp_path / "demo-ort"
    export_pipeline(pipe, out, ExportOptions(size=128))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    _same_sr(pipe, zoo.load_pipeline(out), torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0)))
