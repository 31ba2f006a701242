"""OpenVINO execution of exported ONNX stages (the ``openvino`` backend is :mod:`zoo_export.backends`).

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
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.errors import ZooError
from zoo_export.stages import StageRuntime

logger = logging.getLogger(__name__)

PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
CHOICES = ("auto", *PRECISIONS)
COMPILED_PER_STAGE = 2  # input shapes kept compiled per stage (each holds its own bf16 weights and buffers)
Shapes = tuple[tuple[int, ...], ...]


class OpenVinoUnavailable(ZooError, ImportError):
    """The ``openvino`` package is not installed (``pip install 'zoo-export[openvino]'``)."""


def import_openvino() -> Any:
    """``openvino``, or a one-line :class:`OpenVinoUnavailable` error saying how to install it."""
    from zoo.utils.openvino_import import import_openvino as import_without_telemetry

    try:
        openvino = import_without_telemetry()
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


COMPILED_CACHE = "openvino"
"""Sub-folder of zoo's private cache where OpenVINO keeps compiled models (its ``CACHE_DIR``)."""


def compiled_model_cache() -> Path | None:
    """zoo's private folder for OpenVINO's compiled-model cache (None when there is no usable cache): a later
    run imports a stage compiled for the same model, shapes and settings instead of compiling it again."""
    from zoo.folders.cache import CacheDirError, cache_dir

    try:
        return cache_dir(COMPILED_CACHE)
    except CacheDirError:
        return None


class OpenVinoRuntime(StageRuntime):
    """encode / decode / denoise through OpenVINO compiled models (torch tensors in, float32 torch out).

    The ONNX files have dynamic batch and sides; OpenVINO's CPU plugin runs a dynamic model through
    shape-agnostic kernels, so every stage is compiled for the concrete shapes of its call instead
    (``model.reshape``), on first use of those shapes; the last :data:`COMPILED_PER_STAGE` shapes per
    stage stay compiled (an SR run calls each stage at one or two shapes).
    """

    def __init__(self, paths: dict[str, str | Path], precision: str = "auto", threads: int | None = None) -> None:
        ov = import_openvino()
        self.core = ov.Core()
        self.precision = effective_precision(self.core, precision)
        self.config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": PRECISIONS[self.precision],
                                       "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = int(threads)
        model_cache = compiled_model_cache()
        if model_cache is not None:
            self.config["CACHE_DIR"] = str(model_cache)
        self.paths = {name: Path(p) for name, p in paths.items()}
        self.graphs = {name: self.core.read_model(str(p)) for name, p in self.paths.items()}
        self.compiled: dict[str, OrderedDict[Shapes, Any]] = {name: OrderedDict() for name in self.paths}
        self.validation: dict[str, Any] | None = None

    @classmethod
    def from_dir(cls, root: str | Path, precision: str = "auto", threads: int | None = None) -> OpenVinoRuntime:
        """Open a verified zoo-export folder's ONNX files (manifest and sha256 checks first)."""
        from zoo_export.manifest import verify_export

        manifest = verify_export(root)
        return cls({name: Path(root) / stage["onnx"] for name, stage in manifest["stages"].items()}, precision, threads)

    def request(self, stage: str, shapes: Shapes) -> Any:
        """The infer request of ``stage`` compiled for input ``shapes`` (compiled on first use)."""
        cache = self.compiled[stage]
        if shapes in cache:
            cache.move_to_end(shapes)
            return cache[shapes]
        model = self.graphs[stage].clone()
        model.reshape({port.get_any_name(): list(shape) for port, shape in zip(model.inputs, shapes, strict=True)})
        cache[shapes] = self.core.compile_model(model, "CPU", self.config).create_infer_request()
        if len(cache) > COMPILED_PER_STAGE:
            cache.popitem(last=False)
        return cache[shapes]

    def run(self, stage: str, inputs: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> np.ndarray:
        """The stage's first output for ``inputs`` (timesteps as int64, the rest float32)."""
        feeds = [np.ascontiguousarray(x.detach().cpu().numpy(),
                                      np.int64 if x.dtype in (torch.int32, torch.int64) else np.float32)
                 for x in inputs]
        request = self.request(stage, tuple(f.shape for f in feeds))
        request.infer(feeds, share_inputs=True)
        return request.get_output_tensor(0).data.astype(np.float32, copy=True)

    def _run(self, stage: str, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(stage, inputs)).to(inputs[0].device)
