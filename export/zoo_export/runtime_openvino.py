"""OpenVINO execution of exported ONNX stages, and the ``openvino`` backend of ``zoo.backends``.

OpenVINO compiles the zoo-export ONNX files themselves (nothing new is written) for the CPU. With
``precision="bf16"`` it runs convolutions and matrix products in bfloat16 where the CPU computes
bf16 natively (AVX512_BF16 or AMX): about twice the fp32 rate on a compute-bound CPU, which fp32
ONNX Runtime cannot offer (PyTorch eager already runs the VAE near the fp32 peak). bf16 keeps
fp32's exponent range, so there is no fp16-style overflow; the rounding is checked instead: every
runtime is validated against ONNX Runtime on the same files (which were validated against
PyTorch when exported), stage by stage and end to end, before it is handed out.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.errors import ZooError
from zoo_export.stages import StageRuntime

logger = logging.getLogger(__name__)

PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
CHOICES = ("auto", *PRECISIONS)
VALIDATION_BATCHES = (1, 2)


class OpenVinoUnavailable(ZooError, ImportError):
    """The ``openvino`` package is not installed (``pip install 'zoo-export[openvino]'``)."""


def import_openvino() -> Any:
    """``openvino``, or a one-line :class:`OpenVinoUnavailable` error saying how to install it."""
    try:
        import openvino
    except ImportError as err:
        raise OpenVinoUnavailable(
            f"the openvino backend needs the openvino package ({err}); pip install 'zoo-export[openvino]'"
        ) from err
    return openvino


def native_bf16(core: Any) -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 natively on this CPU."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def effective_precision(core: Any, precision: str) -> str:
    """``precision``; ``auto`` is bf16 where the CPU computes it natively, else fp32; ``bf16`` on a CPU
    without native bf16 runs fp32 (logged)."""
    if precision not in CHOICES:
        raise ValueError(f"precision must be one of {', '.join(CHOICES)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(core) else "fp32"
    if precision == "bf16" and not native_bf16(core):
        logger.warning("openvino: this CPU has no native bf16; running fp32")
        return "fp32"
    return precision


class OpenVinoRuntime(StageRuntime):
    """encode / decode / denoise through OpenVINO compiled models (torch tensors in, float32 torch out)."""

    def __init__(self, paths: dict[str, str | Path], precision: str = "auto", threads: int | None = None) -> None:
        ov = import_openvino()
        core = ov.Core()
        self.precision = effective_precision(core, precision)
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": PRECISIONS[self.precision], "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.paths = {name: Path(p) for name, p in paths.items()}
        self.models = {name: core.compile_model(core.read_model(str(p)), "CPU", config)
                       for name, p in self.paths.items()}
        self.requests = {name: model.create_infer_request() for name, model in self.models.items()}
        self.validation: dict[str, Any] | None = None

    @classmethod
    def from_dir(cls, root: str | Path, precision: str = "auto", threads: int | None = None) -> OpenVinoRuntime:
        """Open a verified zoo-export folder's ONNX files (manifest and sha256 checks first)."""
        from zoo_export.manifest import verify_export

        manifest = verify_export(root)
        return cls({name: Path(root) / stage["onnx"] for name, stage in manifest["stages"].items()}, precision, threads)

    def run(self, stage: str, inputs: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> np.ndarray:
        """The stage's first output for ``inputs`` (timesteps as int64, the rest float32)."""
        feeds = [x.detach().cpu().numpy().astype(np.int64 if x.dtype in (torch.int32, torch.int64) else np.float32)
                 for x in inputs]
        result = self.requests[stage].infer(feeds)
        return np.array(result[self.models[stage].output(0)], dtype=np.float32)

    def _run(self, stage: str, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(stage, inputs)).to(inputs[0].device)


def validate_runtime(root: str | Path, runtime: OpenVinoRuntime) -> dict[str, Any]:
    """Check ``runtime`` against ONNX Runtime on the same export folder; raises when it fails.

    Per stage: relative max difference on fixed inputs at batch 1 and 2 (tolerance of the runtime's
    precision); end to end: the export's pipeline (2 steps) through both, PSNR difference on a phantom.
    """
    from zoo_export.exporter import ExportValidationError
    from zoo_export.manifest import verify_export
    from zoo_export.runtime_ort import OrtRuntime
    from zoo_export.stages import Geometry
    from zoo_export.validate import compare_end_to_end, compare_pipelines, compare_stage

    root = Path(root)
    manifest = verify_export(root)
    g = manifest["geometry"]
    geometry = Geometry(g["in_channels"], g["latent_channels"], g["downsample_factor"], g["size"], g["encode_size"])
    reference = OrtRuntime.from_dir(root, providers=["CPUExecutionProvider"])
    calls = {"encoder": reference.encode, "denoiser": reference.denoise, "decoder": reference.decode}
    stages = {
        name: compare_stage(name, call, lambda inputs, name=name: runtime.run(name, inputs), geometry,
                            runtime.precision, batches=VALIDATION_BATCHES)
        for name, call in calls.items()
    }
    if (root / "pipeline.json").is_file():
        e2e = compare_pipelines(root, reference, runtime, geometry, runtime.precision)
    else:
        e2e = compare_end_to_end(reference, runtime, geometry, runtime.precision)
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
        self.cache_dir = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "zoo-export-cache"
        self.size = size
        self.batch = tuple(batch)
        self.threads = threads

    def _open(self, root: Path) -> OpenVinoRuntime:
        runtime = OpenVinoRuntime.from_dir(root, self.precision, self.threads)
        runtime.validation = validate_runtime(root, runtime)
        return runtime

    def runtime(self, pipeline: Any) -> OpenVinoRuntime:
        from zoo_export.exporter import export_pipeline
        from zoo_export.pipelines import export_options_for
        from zoo_export.runtime_ort import export_cache_key

        import_openvino()  # before any export work: a missing package is a clear, early error
        if torch.device(pipeline.device).type != "cpu":
            raise ValueError(f"the openvino backend runs on the CPU; the pipeline is on {pipeline.device}")
        options = export_options_for(pipeline, backend="onnx", fp16=False, size=self.size, batch=self.batch)
        out = self.cache_dir / export_cache_key(pipeline.vae, pipeline.denoiser, options)
        if not (out / "manifest.json").is_file():
            export_pipeline(pipeline, out, options)
        return self._open(out)

    def load(self, export_dir: str | Path) -> Any:
        from zoo_export.pipelines import pipeline_from_export

        return pipeline_from_export(export_dir, self._open(Path(export_dir)), self.name)
