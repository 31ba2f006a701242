"""The ``openvino`` backend: real OpenVINO on the exported ONNX files, validated before use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from export_helpers import small_pipeline
from zoo_export import validate
from zoo_export.exporter import ExportValidationError
from zoo_export.validate import psnr

import zoo
from zoo.pipeline.saved import PipelineFileError

openvino = pytest.importorskip("openvino")
pytestmark = pytest.mark.slow  # each test exports or compiles a pipeline on a shared 2-core CPU


def _native_bf16() -> bool:
    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _on(pipe, backend):
    return zoo.SRPipeline(pipe.vae, pipe.denoiser, pipe.sampler, pipe.options, backend)


def test_fp32_runtime_matches_torch(tmp_path) -> None:
    pipe = small_pipeline()
    on_ov = _on(pipe, zoo.build_backend("openvino", precision="fp32", cache_dir=tmp_path, size=32))
    runtime = on_ov.runtime
    assert type(runtime).__name__ == "OpenVinoRuntime" and runtime.precision == "fp32"
    report = runtime.validation
    assert report["passed"] and set(report["stages"]) == {"encoder", "denoiser", "decoder"}
    assert all(s["rel_diff"] <= 1e-4 for s in report["stages"].values()), report["stages"]
    lr = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    a, b = pipe(lr, seed=3), on_ov(lr, seed=3)
    assert a.shape == b.shape and (a - b).abs().max() < 1e-3


def test_auto_precision_is_bf16_where_the_cpu_has_it_and_stays_close(tmp_path) -> None:
    pipe = small_pipeline()
    on_ov = _on(pipe, zoo.build_backend("openvino", cache_dir=tmp_path, size=32))
    runtime = on_ov.runtime
    assert runtime.precision == ("bf16" if _native_bf16() else "fp32")
    assert runtime.validation["passed"]
    lr = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    a, b = pipe(lr, seed=3), on_ov(lr, seed=3)
    hr = F.interpolate(lr, size=a.shape[-2:], mode="bicubic").clamp(0, 1)
    assert torch.isfinite(b).all()
    assert abs(psnr(a, hr, 1.0) - psnr(b, hr, 1.0)) <= 0.25


def test_opens_an_onnx_export_folder(exported) -> None:
    pipe, root = exported
    loaded = zoo.load_pipeline(root, backend="openvino")
    assert type(loaded.runtime).__name__ == "OpenVinoRuntime" and loaded.runtime.validation["passed"]
    assert loaded.backend.name == "openvino"
    lr = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    assert loaded(lr, seed=0).shape == pipe(lr, seed=0).shape
    with pytest.raises(PipelineFileError, match="cannot open exports"):
        zoo.load_pipeline(root, backend="torch")


def test_failed_validation_raises(exported, monkeypatch) -> None:
    tight = {name: 0.0 for name in validate.STAGE_TOLERANCE["fp32"]}
    monkeypatch.setitem(validate.STAGE_TOLERANCE, "fp32", tight)
    with pytest.raises(ExportValidationError, match="openvino fp32 failed validation"):
        zoo.build_backend("openvino", precision="fp32").load(exported[1])


def test_bad_precision_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        zoo.build_backend("openvino", precision="int8")


def test_missing_openvino_is_an_import_error_naming_the_extra(exported) -> None:
    code = textwrap.dedent(f"""
        import sys
        sys.modules["openvino"] = None  # as if the package were not installed
        import zoo
        try:
            zoo.load_pipeline({str(exported[1])!r}, backend="openvino")
        except ImportError as err:
            print(type(err).__name__, err)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("OpenVinoUnavailable") and "zoo-export[openvino]" in out


def test_each_call_shape_runs_a_static_compiled_model_matching_onnxruntime(exported) -> None:
    from zoo_export.runtime_openvino import COMPILED_PER_STAGE, OpenVinoRuntime
    from zoo_export.runtime_ort import OrtRuntime

    root = exported[1]
    runtime, reference = OpenVinoRuntime.from_dir(root, "fp32"), OrtRuntime.from_dir(root)
    gen = torch.Generator().manual_seed(4)
    for batch in range(1, COMPILED_PER_STAGE + 3):
        z = torch.randn(batch, 3, 8, 8, generator=gen)
        assert (runtime.decode(z) - reference.decode(z)).abs().max() < 1e-4
    shapes = list(runtime.compiled["decoder"])
    assert shapes == [((b, 3, 8, 8),) for b in range(3, COMPILED_PER_STAGE + 3)]  # the last ones used, in order
    request = runtime.compiled["decoder"][shapes[-1]]
    assert all(port.get_partial_shape().is_static for port in request.model_inputs + request.model_outputs)
    z = torch.randn(1, 3, 12, 8, generator=gen)  # a new side is compiled too, the oldest shape dropped
    assert (runtime.decode(z) - reference.decode(z)).abs().max() < 1e-4
    assert list(runtime.compiled["decoder"])[-1] == ((1, 3, 12, 8),) and shapes[0] not in runtime.compiled["decoder"]


def test_compiled_stages_are_kept_in_the_private_cache_and_compute_the_same(exported, tmp_path, monkeypatch) -> None:
    """OpenVINO's compiled models go to ``<ZOO_CACHE>/openvino``; a later runtime imports them (no new blob)
    and computes what a freshly compiled stage computes."""
    from zoo_export.runtime_openvino import OpenVinoRuntime

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    z = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    first = OpenVinoRuntime.from_dir(exported[1], "fp32").decode(z)
    blobs = sorted((tmp_path / "cache" / "openvino").glob("*.blob"))
    assert len(blobs) == 1 and oct(blobs[0].parent.stat().st_mode & 0o777) == "0o700"
    again = OpenVinoRuntime.from_dir(exported[1], "fp32").decode(z)
    assert sorted((tmp_path / "cache" / "openvino").glob("*.blob")) == blobs
    assert torch.equal(first, again)
