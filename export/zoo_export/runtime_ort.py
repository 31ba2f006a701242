"""ONNX Runtime execution of exported stages (the ``onnxruntime`` backend is :mod:`zoo_export.backends`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo_export.stages import StageRuntime

ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
              "tensor(int32)": np.int32}


def ort_feeds(session: Any, inputs: Sequence[torch.Tensor]) -> dict[str, np.ndarray]:
    """Numpy feeds in the dtypes the session declares (fp16 I/O files get fp16 inputs)."""
    feeds = {}
    for meta, x in zip(session.get_inputs(), inputs, strict=True):
        feeds[meta.name] = x.detach().cpu().numpy().astype(ORT_DTYPES[meta.type])
    return feeds


def ort_runner(session: Any) -> Callable[[Sequence[torch.Tensor]], np.ndarray]:
    """``inputs -> first output`` of an ONNX Runtime session."""
    return lambda inputs: session.run(None, ort_feeds(session, inputs))[0]


def make_session(path: str | Path, providers: list[str] | None = None, threads: int | None = None):
    """An ``InferenceSession`` with full graph optimisation (fastest on CPU, reference export.md §1.4).

    ``threads`` sets ONNX Runtime's intra-op threads (default: one per physical core).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle ORT workers spin by default; between stage calls the pipeline's own PyTorch work (sampler,
    # bicubic, intensity mapping) then competes with them for the cores (measured: end to end 1.6x
    # slower than the sum of its stages on the 2-core CPU). Sleeping workers cost nothing measurable.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = int(threads)
    available = ort.get_available_providers()
    chosen = [p for p in (providers or ["CUDAExecutionProvider", "CPUExecutionProvider"]) if p in available]
    return ort.InferenceSession(str(path), options, providers=chosen or ["CPUExecutionProvider"])


class OrtRuntime(StageRuntime):
    """encode / denoise / decode through ONNX Runtime sessions (torch tensors in, float32 torch out)."""

    def __init__(
        self, paths: dict[str, str | Path], providers: list[str] | None = None, threads: int | None = None
    ) -> None:
        self.paths = {name: Path(p) for name, p in paths.items()}
        self.sessions = {name: make_session(p, providers, threads) for name, p in self.paths.items()}

    @classmethod
    def from_dir(cls, root: str | Path, providers: list[str] | None = None, threads: int | None = None) -> OrtRuntime:
        """Open a verified zoo-export folder (manifest checks and sha256 of every file first)."""
        from zoo_export.manifest import verify_export

        manifest = verify_export(root)
        return cls({name: Path(root) / stage["onnx"] for name, stage in manifest["stages"].items()}, providers, threads)

    def _run(self, stage: str, *inputs: torch.Tensor) -> torch.Tensor:
        session = self.sessions[stage]
        device = inputs[0].device
        out = session.run(None, ort_feeds(session, inputs))[0]
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).to(device)
