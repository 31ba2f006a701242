"""ONNX Runtime execution of exported stages, and the ``onnxruntime`` backend of ``zoo.backends``."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo_export.stages import StageRuntime
from zoo_export.validate import ort_feeds


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
        self.cache_dir = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "zoo-export-cache"
        self.size = size
        self.batch = tuple(batch)
        self.providers = providers
        self.threads = threads

    def runtime(self, pipeline: Any) -> OrtRuntime:
        from zoo_export.exporter import export_pipeline
        from zoo_export.pipelines import export_options_for

        options = export_options_for(pipeline, backend="onnx", fp16=self.fp16, size=self.size, batch=self.batch)
        out = self.cache_dir / export_cache_key(pipeline.vae, pipeline.denoiser, options)
        if not (out / "manifest.json").is_file():
            export_pipeline(pipeline, out, options)
        return OrtRuntime.from_dir(out, self.providers, self.threads)

    def load(self, export_dir: str | Path) -> Any:
        from zoo_export.pipelines import pipeline_from_export

        return pipeline_from_export(export_dir, OrtRuntime.from_dir(export_dir, self.providers, self.threads))


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
