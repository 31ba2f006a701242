"""``backend="auto"``, the default: the fastest installed runtime that passed validation against torch on a
probe (docs/backends.md), the result recorded in the private cache, torch when a candidate fails.

Real exports take minutes on the 2-core machine, so the tests that need one share a module's cache (one
export, made by the first) and are marked slow; the fallbacks that need no export are fast."""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from export_helpers import small_pipeline
from zoo_export.backends import OnnxRuntimeBackend

import zoo
from zoo import registry
from zoo.backends.validation import TOLERANCE_DB, probe_pair
from zoo.cards import BackendCard

AUTO_LOG = "zoo.backends.auto"


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new private ZOO_CACHE, and auto choosing for real (the suite pins it to torch)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ZOO_CACHE", str(cache))
    monkeypatch.delenv("ZOO_AUTO_BACKEND", raising=False)
    return cache


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    """(pipeline, its auto pipeline, cache): one small pipeline exported and validated once for the module."""
    cache = tmp_path_factory.mktemp("auto") / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE", str(cache))
        patch.delenv("ZOO_AUTO_BACKEND", raising=False)
        pipe = small_pipeline()
        return pipe, _on_auto(pipe), cache


@pytest.fixture
def shared_cache(shared, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZOO_CACHE", str(shared[2]))
    monkeypatch.delenv("ZOO_AUTO_BACKEND", raising=False)
    return shared[2]


def _records(cache: Path, candidate: str) -> list[Path]:
    return [p for p in _entries(cache / "auto") if json.loads(p.read_text() or "{}").get("candidate") == candidate]


def _on_auto(pipe) -> zoo.SRPipeline:
    auto = zoo.SRPipeline(pipe.vae, pipe.denoiser, pipe.sampler, pipe.options, "auto")
    auto.build_runtime()
    return auto


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / torch.mean((a.double() - b.double()) ** 2)))


class SkewedOrtBackend(OnnxRuntimeBackend):
    """The real ONNX Runtime backend whose decoder output is shifted: computes something else than torch."""

    def runtime(self, pipeline):
        runtime = super().runtime(pipeline)
        decode = runtime.decode
        runtime.decode = lambda z: decode(z) + 0.2
        return runtime


@pytest.fixture
def skewed_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """``onnxruntime`` replaced, in this process only, by :class:`SkewedOrtBackend`; auto tries only it."""
    monkeypatch.setattr(registry, "_local", {k: list(v) for k, v in registry._local.items()})
    monkeypatch.setattr(registry, "_discovered", {k: list(v) for k, v in registry._discovered.items()})
    registry.register(BackendCard(name="onnxruntime", factory=f"{__name__}:SkewedOrtBackend", devices=("cpu",),
                                  requires=("onnx", "onnxruntime")), override=True)
    monkeypatch.setenv("ZOO_AUTO_BACKEND", "onnxruntime")


@pytest.mark.slow
def test_auto_picks_openvino_here_and_matches_torch(shared):
    pipe, auto, cache = shared
    assert auto.backend.choice.backend == "openvino", auto.backend.choice
    assert "validated against torch now" in auto.backend.choice.reason
    (record,) = _records(cache, "openvino")
    saved = json.loads(record.read_text())
    assert saved["passed"] and saved["delta_psnr_db"] <= TOLERANCE_DB
    lr, hr = probe_pair(pipe.scale, lr_side=24)  # another image than the probe
    ours, reference = auto(lr, seed=5), pipe(lr, seed=5)
    assert abs(_psnr(ours, hr) - _psnr(reference, hr)) <= TOLERANCE_DB
    assert _psnr(ours, reference) > 30


@pytest.mark.slow
def test_uncertainty_and_tiles_run_through_auto(shared):
    pipe, auto, _ = shared
    lr = probe_pair(pipe.scale, lr_side=40)[0]
    sr, error = auto(lr, seed=1, uncertainty=True, uncertainty_samples=2, tile=32)
    ref_sr, ref_error = pipe(lr, seed=1, uncertainty=True, uncertainty_samples=2, tile=32)
    assert sr.shape == error.shape == ref_sr.shape == (1, 1, 80, 80)
    assert _psnr(sr, ref_sr) > 30 and float((error - ref_error).abs().max()) < 0.05


@pytest.mark.slow
def test_the_second_pipeline_reuses_the_export_and_the_record(shared, shared_cache, caplog):
    pipe = shared[0]
    (entry,) = _entries(shared_cache / "exports")
    (record,) = _records(shared_cache, "openvino")
    made = record.stat().st_mtime_ns, (entry / "manifest.json").stat().st_mtime_ns
    with caplog.at_level(logging.DEBUG, logger=AUTO_LOG):
        again = _on_auto(pipe)
    assert again.backend.choice.backend == "openvino" and "recorded" in again.backend.choice.reason
    assert not [r for r in caplog.records if "validating" in r.getMessage()]
    assert _entries(shared_cache / "exports") == [entry] and _records(shared_cache, "openvino") == [record]
    assert (record.stat().st_mtime_ns, (entry / "manifest.json").stat().st_mtime_ns) == made


@pytest.mark.slow
def test_a_half_written_record_is_ignored_and_validated_again(shared, shared_cache):
    (record,) = _records(shared_cache, "openvino")
    whole = record.read_text()
    record.write_text(whole[:40])
    again = _on_auto(shared[0])
    assert "validated against torch now" in again.backend.choice.reason
    assert json.loads(record.read_text())["passed"]


@pytest.mark.slow
def test_a_candidate_that_fails_validation_falls_back_to_torch_with_one_line(shared, shared_cache,
                                                                            skewed_onnxruntime, caplog):
    pipe = shared[0]
    with caplog.at_level(logging.WARNING):
        auto = _on_auto(pipe)
    assert auto.backend.choice.backend == "torch"
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith("auto backend: running torch: onnxruntime failed validation (dPSNR") and "\n" not in line
    (record,) = _records(shared_cache, "onnxruntime")
    assert json.loads(record.read_text())["passed"] is False
    lr = probe_pair(pipe.scale, lr_side=16)[0]
    assert torch.equal(auto(lr, seed=2), pipe(lr, seed=2))  # torch ran
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=AUTO_LOG):
        again = _on_auto(pipe)  # the failed record is reused: nothing exported or probed again
    assert again.backend.choice.backend == "torch" and "recorded" in again.backend.choice.skipped[0]
    assert not [r for r in caplog.records if "validating" in r.getMessage()]


@pytest.mark.slow
def test_a_changed_pipeline_gets_a_new_export_and_validation(shared, shared_cache):
    pipe = copy.deepcopy(shared[0])
    with torch.no_grad():
        next(pipe.denoiser.parameters()).add_(0.01)
    changed = _on_auto(pipe)
    assert "validated against torch now" in changed.backend.choice.reason
    assert len(_entries(shared_cache / "exports")) == 2 and len(_records(shared_cache, "openvino")) == 2


@pytest.mark.slow  # the exporter tries for a minute before it gives up
def test_a_pipeline_no_export_can_represent_runs_on_torch_with_one_line(fresh_cache, caplog):
    pipe = small_pipeline()
    pipe.denoiser.forward = lambda *args, **kwargs: (_ for _ in ()).throw(TypeError("no ONNX path"))
    with caplog.at_level(logging.WARNING):
        auto = _on_auto(pipe)
    assert auto.backend.choice.backend == "torch"
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name == AUTO_LOG]
    assert "openvino cannot run this pipeline" in line and "onnxruntime cannot run this pipeline" in line
    assert [json.loads(p.read_text())["passed"] for p in _entries(fresh_cache / "auto")] == [False, False]
    again = _on_auto(pipe)  # recorded: the exporter is not tried again
    assert all("(recorded)" in why for why in again.backend.choice.skipped)


def test_zoo_auto_backend_torch_forces_eager_and_a_bad_value_is_one_line(fresh_cache, monkeypatch):
    pipe = small_pipeline()
    monkeypatch.setenv("ZOO_AUTO_BACKEND", "torch")
    assert _on_auto(pipe).backend.choice.backend == "torch"
    assert not (fresh_cache / "exports").exists()
    monkeypatch.setenv("ZOO_AUTO_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match=r"^ZOO_AUTO_BACKEND=tensorflow: not an installed runtime") as info:
        _on_auto(pipe)
    assert "\n" not in str(info.value)


_BUILD = """
import sys, zoo
pipe = zoo.load_pipeline(sys.argv[1])
print(pipe.backend.choice.backend)
"""


@pytest.mark.slow
def test_two_processes_at_once_on_a_fresh_cache_share_one_entry(fresh_cache, tmp_path):
    small_pipeline().save_pretrained(tmp_path / "saved")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = [subprocess.Popen([sys.executable, "-c", _BUILD, str(tmp_path / "saved")], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["openvino", "openvino"], outputs
    (entry,) = _entries(fresh_cache / "exports")
    (record,) = _entries(fresh_cache / "auto")
    assert json.loads(record.read_text())["passed"] and (entry / "manifest.json").is_file()


def test_zoo_env_shows_the_auto_choice_without_exporting(fresh_cache):
    from click.testing import CliRunner

    from zoo.cli.env import collect_env, env_cmd

    auto = collect_env()["auto_backend"]
    assert auto["backend"] == "openvino" and auto["installed"] == ["openvino", "onnxruntime"]
    assert ("bf16" in auto["reason"]) and isinstance(auto["cpu"]["flags"], list) and auto["cpu"]["model"]
    text = CliRunner().invoke(env_cmd, []).output
    (line,) = [x for x in text.splitlines() if x.startswith("auto backend")]
    assert "openvino" in line and "validation against torch" in line
    assert not fresh_cache.exists()  # nothing exported, not even the cache folder made


@pytest.mark.slow
def test_zoo_sr_v_says_which_runtime_ran_and_why(shared, shared_cache, tmp_path):
    import numpy as np
    from PIL import Image

    shared[0].save_pretrained(tmp_path / "saved")
    Image.fromarray((probe_pair(2, lr_side=16)[0][0, 0].numpy() * 255).astype(np.uint8)).save(tmp_path / "lr.png")
    env = {k: v for k, v in os.environ.items() if k != "ZOO_AUTO_BACKEND"}
    run = subprocess.run([sys.executable, "-m", "zoo", "sr", "-v", str(tmp_path / "lr.png"), "--pipeline",
                          str(tmp_path / "saved"), "--out", str(tmp_path / "out")], env=env, text=True,
                         capture_output=True, timeout=600)
    assert run.returncode == 0, run.stderr
    (line,) = [x for x in run.stderr.splitlines() if "auto backend: openvino (" in x]  # one line: which and why
    assert "auto backend: openvino (validated against torch" in line and "dPSNR" in line
    assert "auto backend: running" not in run.stderr  # nothing passed over
    assert (tmp_path / "out" / "lr.png").is_file()


def test_on_cuda_auto_runs_tensorrt_only_where_engines_were_built(fresh_cache):
    """The CUDA branch never builds engines and never touches TensorRT without it: here (no TensorRT, no CUDA) it
    runs torch and says why, and the engine lookup itself refuses before importing TensorRT."""
    import importlib.util

    from zoo.backends.auto import AutoBackend
    from zoo.backends.torch import TorchRuntime
    from zoo.errors import ZooError

    pipe = small_pipeline()
    reference = TorchRuntime(pipe.vae, pipe.denoiser)
    runtime, choice = AutoBackend()._pick_cuda(pipe, reference)
    assert runtime is reference and choice.backend == "torch" and not choice.skipped
    if importlib.util.find_spec("tensorrt") is None:
        assert "TensorRT is not installed" in choice.reason
    if not torch.cuda.is_available():
        with pytest.raises(ZooError, match="CUDA"):
            zoo.build_backend("tensorrt").cached_engine(pipe)
        assert "tensorrt" not in sys.modules
    assert not (fresh_cache / "exports").exists()  # nothing exported or built
