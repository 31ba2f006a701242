"""The backends zoo-export adds to ``zoo.backends``: ``onnxruntime``, ``openvino`` and ``tensorrt``.

The top layer of zoo-export: ``backend.runtime(pipeline)`` exports the pipeline (validated, into a
cache folder keyed by its weights and the options) and opens a runtime on the files;
``backend.load(folder)`` opens an export folder as an ``SRPipeline``. The cards that point here are
:mod:`zoo_export.cards`. The exporter (onnx, onnxscript) is imported only when an export is made.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import torch

from zoo_export.manifest import MANIFEST, manifest_geometry, verify_export
from zoo_export.options import export_options_for
from zoo_export.pipelines import pipeline_from_export
from zoo_export.runtime_openvino import CHOICES, OpenVinoRuntime, import_openvino
from zoo_export.runtime_ort import OrtRuntime
from zoo_export.runtime_trt import TrtRuntime
from zoo_export.trt import current_environment
from zoo_export.validate import ExportValidationError, compare_stage

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "zoo-export-cache"
OPENVINO_VALIDATION_BATCHES = (1, 2)


def export_cache_key(*parts: Any) -> str:
    """Short hash of the modules' weights and the export options."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.nn.Module):
            for key, value in sorted(part.state_dict().items()):
                digest.update(key.encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:16]


def _cached_export(pipeline: Any, cache_dir: Path, options: Any, *key: Any) -> Path:
    """The export of ``pipeline`` with ``options`` in ``cache_dir``, made on first use."""
    from zoo_export.exporter import export_pipeline

    out = cache_dir / export_cache_key(pipeline.vae, pipeline.denoiser, options, *key)
    if not (out / MANIFEST).is_file():
        export_pipeline(pipeline, out, options)
    return out


class OnnxRuntimeBackend:
    """``zoo.build_backend("onnxruntime", fp16=False, cache_dir=None, size=None, batch=(1, 1, 4), threads=None)``.

    ``runtime(pipeline)`` exports the pipeline's stages (validated) into a cache folder keyed by
    the weights and options, and returns an :class:`OrtRuntime`; ``load(export_dir)`` rebuilds the
    SR pipeline of a zoo-export folder on top of its ONNX files.
    """

    name = "onnxruntime"

    def __init__(self, fp16: bool = False, cache_dir: str | Path | None = None, size: int | None = None,
                 batch: tuple[int, int, int] = (1, 1, 4), providers: list[str] | None = None,
                 threads: int | None = None, **_: Any) -> None:
        self.fp16 = fp16
        self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE
        self.size = size
        self.batch = tuple(batch)
        self.providers = providers
        self.threads = threads

    def runtime(self, pipeline: Any) -> OrtRuntime:
        options = export_options_for(pipeline, backend="onnx", fp16=self.fp16, size=self.size, batch=self.batch)
        return OrtRuntime.from_dir(_cached_export(pipeline, self.cache_dir, options), self.providers, self.threads)

    def load(self, export_dir: str | Path) -> Any:
        return pipeline_from_export(export_dir, OrtRuntime.from_dir(export_dir, self.providers, self.threads))


def validate_openvino(root: str | Path, runtime: OpenVinoRuntime) -> dict[str, Any]:
    """Check an OpenVINO runtime against ONNX Runtime on the same export folder; raises when it fails.

    Per stage: relative max difference on fixed inputs at batch 1 and 2 (tolerance of the runtime's
    precision); end to end: the export's pipeline (2 steps) through both, PSNR difference on a phantom.
    """
    from zoo_export.exporter import compare_sr

    root = Path(root)
    geometry = manifest_geometry(verify_export(root))
    reference = OrtRuntime.from_dir(root, providers=["CPUExecutionProvider"])
    calls = {"encoder": reference.encode, "denoiser": reference.denoise, "decoder": reference.decode}
    stages = {
        name: compare_stage(name, call, lambda inputs, name=name: runtime.run(name, inputs), geometry,
                            runtime.precision, batches=OPENVINO_VALIDATION_BATCHES)
        for name, call in calls.items()
    }
    e2e = compare_sr(root, reference, runtime, geometry, runtime.precision)
    report = {"reference": "onnxruntime fp32 on the same files", "precision": runtime.precision,
              "stages": stages, "end_to_end": e2e,
              "passed": all(s["passed"] for s in stages.values()) and e2e["passed"]}
    if not report["passed"]:
        problems = [f"{n}: rel diff {s['rel_diff']} > {s['tolerance']}" for n, s in stages.items() if not s["passed"]]
        if not e2e["passed"]:
            problems.append(f"end-to-end SR: dPSNR {e2e['delta_psnr_db']} dB > {e2e['tolerance_db']} dB")
        raise ExportValidationError(f"openvino {runtime.precision} failed validation: " + "; ".join(problems))
    return report


class OpenVinoBackend:
    """``zoo.build_backend("openvino", precision="auto", cache_dir=None, size=None, batch=(1, 1, 4), threads=None)``.

    ``runtime(pipeline)`` exports the pipeline's fp32 ONNX stages (validated against PyTorch, cached
    like the ``onnxruntime`` backend's), compiles them with OpenVINO in ``precision`` and validates
    the result; ``load(export_dir)`` does the same on a zoo-export folder. ``precision``: ``auto``
    (bf16 where the CPU computes bf16 natively, else fp32), ``bf16`` or ``fp32``.
    """

    name = "openvino"

    def __init__(self, precision: str = "auto", cache_dir: str | Path | None = None, size: int | None = None,
                 batch: tuple[int, int, int] = (1, 1, 4), threads: int | None = None, **_: Any) -> None:
        if precision not in CHOICES:
            raise ValueError(f"openvino precision must be one of {', '.join(CHOICES)}, got {precision!r}")
        self.precision = precision
        self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE
        self.size = size
        self.batch = tuple(batch)
        self.threads = threads

    def _open(self, root: Path) -> OpenVinoRuntime:
        runtime = OpenVinoRuntime.from_dir(root, self.precision, self.threads)
        runtime.validation = validate_openvino(root, runtime)
        return runtime

    def runtime(self, pipeline: Any) -> OpenVinoRuntime:
        import_openvino()  # before any export work: a missing package is a clear, early error
        if torch.device(pipeline.device).type != "cpu":
            raise ValueError(f"the openvino backend runs on the CPU; the pipeline is on {pipeline.device}")
        options = export_options_for(pipeline, backend="onnx", fp16=False, size=self.size, batch=self.batch)
        return self._open(_cached_export(pipeline, self.cache_dir, options))

    def load(self, export_dir: str | Path) -> Any:
        return pipeline_from_export(export_dir, self._open(Path(export_dir)), self.name)


class TensorRTBackend:
    """``zoo.build_backend("tensorrt", size=None, batch=(1, 1, 4), cache_dir=None)`` (CUDA only).

    ``runtime(pipeline)`` exports fp16 ONNX and builds engines into a cache folder (keyed by
    weights, options, TensorRT version and GPU); ``load(export_dir)`` runs a zoo-export folder.
    """

    name = "tensorrt"

    def __init__(self, size: int | None = None, batch: tuple[int, int, int] = (1, 1, 4),
                 cache_dir: str | Path | None = None, builder_optimization_level: int = 3, **_: Any) -> None:
        self.size = size
        self.batch = tuple(batch)
        self.cache_dir = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "zoo" / "engines"
        self.builder_optimization_level = builder_optimization_level

    def runtime(self, pipeline: Any) -> TrtRuntime:
        env = current_environment()  # checks CUDA and TensorRT first
        options = export_options_for(pipeline, backend="trt", fp16=True, size=self.size, batch=self.batch)
        options.builder_optimization_level = self.builder_optimization_level
        return TrtRuntime(_cached_export(pipeline, self.cache_dir, options, env))

    def load(self, export_dir: str | Path) -> Any:
        return pipeline_from_export(export_dir, TrtRuntime(export_dir), self.name)
