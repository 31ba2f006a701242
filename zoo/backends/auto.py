"""The ``auto`` backend (the default): the fastest installed runtime that passed validation against torch.

On a CUDA device: TensorRT where engines of the pipeline were built for this GPU (never built here), else
torch on the GPU. On the CPU: the first installed of ``openvino`` (precision auto: bf16
where the CPU computes it natively) and ``onnxruntime`` (fp32), found through the backend registry, else
torch. A candidate runs only after its whole SR call matched torch's on a probe image
(:mod:`zoo.backends.validation`); the result is recorded in the private cache, so runs after the first
skip the probe (the export's files are still sha256-verified on every use). A candidate that fails, or
cannot export this pipeline, is passed over with one warning line naming the reason.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.backends.base import Runtime
from zoo.backends.torch import TorchRuntime
from zoo.backends.validation import (
    Validation,
    compare,
    cpu_facts,
    pipeline_fingerprint,
    probe_pair,
    read_record,
    record_key,
    write_record,
)
from zoo.folders.cache import CacheDirError

if TYPE_CHECKING:
    from zoo.pipeline.sr_pipeline import SRPipeline

__all__ = ["CPU_CANDIDATES", "ENV_VAR", "AutoBackend", "Choice", "installed_candidates", "machine_choice"]

log = logging.getLogger(__name__)

CPU_CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("openvino", {"precision": "auto"}),
    ("onnxruntime", {"fp16": False}),
)
"""The CPU runtimes ``auto`` tries, fastest first, with the options it builds them with."""
MANIFEST = "manifest.json"
ENV_VAR = "ZOO_AUTO_BACKEND"
"""``torch`` makes ``auto`` run torch; ``openvino`` / ``onnxruntime`` makes it try only that runtime (validated)."""


@dataclass
class Choice:
    """The runtime ``auto`` picked and why (``skipped``: candidates passed over, each with its reason)."""

    backend: str
    reason: str
    skipped: list[str] = field(default_factory=list)


def _card(name: str) -> Any:
    """The registered backend card ``name``, or None when no installed plugin registers it."""
    from zoo.registry import list_components

    for info in list_components("backend"):
        if info.ok and info.name == name:
            return info.card
    return None


def installed_candidates() -> list[tuple[str, dict[str, Any], Any]]:
    """The CPU candidates whose card is registered and whose required packages are importable (nothing imported)."""
    found = []
    for name, options in CPU_CANDIDATES:
        card = _card(name)
        if card is not None and all(importlib.util.find_spec(p) is not None for p in card.requires):
            found.append((name, options, card))
    return found


def machine_choice(device: str = "cpu") -> dict[str, Any]:
    """What ``auto`` would run on ``device`` on this machine, without exporting anything (for ``zoo env``)."""
    cpu = cpu_facts()
    installed = [name for name, _, _ in installed_candidates()]
    if torch.device(device).type == "cuda":
        return {"device": device, "backend": "torch", "reason": "a CUDA device: torch on the GPU, or TensorRT "
                "for a pipeline whose engines were built on this GPU (validated against torch)",
                "installed": installed, "cpu": cpu}
    if not installed:
        return {"device": device, "backend": "torch", "reason": "neither openvino nor onnxruntime is installed",
                "installed": installed, "cpu": cpu}
    first = installed[0]
    bf16 = [f for f in cpu["flags"] if f in ("avx512_bf16", "amx_bf16")]
    why = (f"bf16: the CPU has {', '.join(bf16)}" if bf16 else "fp32: the CPU has no native bf16") \
        if first == "openvino" else "fp32"
    return {"device": device, "backend": first, "reason": f"first installed of {', '.join(installed)} ({why}); "
            "used once its export passed validation against torch, else the next, else torch",
            "installed": installed, "cpu": cpu}


def _one_line(err: BaseException) -> str:
    """``Type: first line of the message``."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def _manifest_sha256(runtime: Any) -> str | None:
    folder = getattr(runtime, "export_dir", None)
    if folder is None:
        return None
    try:
        return hashlib.sha256((Path(folder) / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return None


def _cannot_run(key: str, name: str, reason: str, err: Exception) -> str:
    """Record that candidate ``name`` cannot run the pipeline (so later runs do not export again), unless the
    error may pass (a file system error); returns ``reason``."""
    if not isinstance(err, OSError):
        write_record(Validation(key=key, candidate=name, passed=False, reason=reason))
    return reason


def _sr_with(pipeline: SRPipeline, runtime: Runtime, lr: torch.Tensor) -> torch.Tensor:
    """The whole SR call of ``pipeline`` on ``lr`` through ``runtime`` (seed 0, no progress bar)."""
    pipeline.runtime = runtime
    return pipeline(lr, seed=0, progress=False)


class AutoBackend:
    """``zoo.build_backend("auto")``: picks, validates and opens a runtime; ``choice`` says which and why."""

    name = "auto"

    def __init__(self, **_: Any) -> None:
        self.choice: Choice | None = None

    def runtime(self, pipeline: SRPipeline) -> Runtime:
        reference = TorchRuntime(pipeline.vae, pipeline.denoiser)
        runtime, self.choice = self._pick(pipeline, reference)
        if self.choice.skipped:
            log.warning("auto backend: running %s: %s", self.choice.backend, "; ".join(self.choice.skipped))
        log.debug("auto backend: %s (%s)", self.choice.backend, self.choice.reason)
        return runtime

    def _pick(self, pipeline: SRPipeline, reference: Runtime) -> tuple[Runtime, Choice]:
        device = torch.device(pipeline.device)
        if device.type == "cuda":
            return self._pick_cuda(pipeline, reference)
        if device.type != "cpu":
            return reference, Choice("torch", f"{device.type} device: torch on it")
        if pipeline.dtype != torch.float32:
            return reference, Choice("torch", f"the pipeline runs in {pipeline.dtype}; the exports are float32")
        candidates = installed_candidates()
        forced = os.environ.get(ENV_VAR, "").strip().lower()
        if forced == "torch":
            return reference, Choice("torch", f"{ENV_VAR}=torch")
        if forced:
            candidates = [c for c in candidates if c[0] == forced]
            if not candidates:
                names = ", ".join(["torch", *(n for n, _, _ in installed_candidates())])
                raise ValueError(f"{ENV_VAR}={forced}: not an installed runtime auto can pick (choose: {names})")
        if not candidates:
            return reference, Choice("torch", "neither openvino nor onnxruntime is installed")
        fingerprint = pipeline_fingerprint(pipeline)
        skipped: list[str] = []
        probe: dict[str, torch.Tensor] = {}
        for name, options, card in candidates:
            key = record_key(fingerprint, name, options, card.requires)
            runtime, why = self._try(pipeline, name, options, key, reference, probe)
            if runtime is not None:
                return runtime, Choice(name, why, skipped)
            skipped.append(f"{name} {why}")
        return reference, Choice("torch", "no candidate passed", skipped)

    def _pick_cuda(self, pipeline: SRPipeline, reference: Runtime) -> tuple[Runtime, Choice]:
        """On a CUDA device: TensorRT where engines of this pipeline were built for this GPU (validated against
        torch like a CPU candidate), else torch on the GPU. Engines are never built here: that takes minutes
        (``zoo-export --backend trt``, or ``build_backend("tensorrt").runtime(pipe)`` once)."""
        from zoo.factory import build_backend

        forced = os.environ.get(ENV_VAR, "").strip().lower()
        card = _card("tensorrt")
        if forced == "torch" or card is None or any(importlib.util.find_spec(p) is None for p in card.requires):
            why = f"{ENV_VAR}=torch" if forced == "torch" else "TensorRT is not installed"
            return reference, Choice("torch", f"cuda device: torch on it ({why})")
        try:
            entry = build_backend("tensorrt").cached_engine(pipeline)
        except Exception as err:  # noqa: BLE001 - TensorRT unusable here (driver, version): torch runs it
            return reference, Choice("torch", f"cuda device: torch on it (TensorRT unusable: {_one_line(err)})")
        if entry is None:
            return reference, Choice("torch", "cuda device: torch on it (no TensorRT engine built for this "
                                              "pipeline on this GPU)")
        key = record_key(pipeline_fingerprint(pipeline), "tensorrt", {}, card.requires)
        runtime, why = self._try(pipeline, "tensorrt", {}, key, reference, {})
        if runtime is not None:
            return runtime, Choice("tensorrt", why)
        return reference, Choice("torch", "cuda device: torch on it", [f"tensorrt {why}"])

    def _try(self, pipeline: SRPipeline, name: str, options: dict[str, Any], key: str, reference: Runtime,
             probe: dict[str, torch.Tensor]) -> tuple[Runtime | None, str]:
        """``(runtime, why)`` for a candidate that passed (now or by its record), else ``(None, why not)``."""
        from zoo.factory import build_backend

        record = read_record(key)
        if record is not None and not record.passed:
            if record.delta_psnr_db is None:  # it could not run this pipeline: not tried again
                return None, f"{record.reason} (recorded)"
            return None, f"failed validation on this machine ({record.reason}; recorded)"
        verified = record.manifest_sha256 if record is not None else None
        try:
            runtime = build_backend(name, **options, verified_manifest=verified).runtime(pipeline)
        except CacheDirError:
            raise
        except Exception as err:  # an export that cannot represent this pipeline: torch runs it
            return None, _cannot_run(key, name, f"cannot run this pipeline ({_one_line(err)})", err)
        manifest = _manifest_sha256(runtime)
        if record is not None and manifest is not None and manifest == record.manifest_sha256:
            return runtime, f"validated against torch on this machine (dPSNR {record.delta_psnr_db:.4f} dB; recorded)"
        try:
            result = self._validate(pipeline, name, key, runtime, reference, probe, manifest)
        except CacheDirError:
            raise
        except Exception as err:  # the candidate cannot run the whole SR call (a shape it was not exported for)
            pipeline.runtime = reference
            return None, _cannot_run(key, name, f"failed on the probe ({_one_line(err)})", err)
        if not result.passed:
            return None, f"failed validation ({result.reason})"
        return runtime, f"validated against torch now (dPSNR {result.delta_psnr_db:.4f} dB)"

    @staticmethod
    def _validate(pipeline: SRPipeline, name: str, key: str, runtime: Runtime, reference: Runtime,
                  probe: dict[str, torch.Tensor], manifest: str | None) -> Validation:
        """Run the probe through torch (once per pick) and ``runtime``; record and return the result."""
        log.debug("auto backend: validating %s against torch on the probe (first use on this machine)", name)
        if not probe:
            lr, hr = probe_pair(pipeline.scale, lr_side=max((pipeline.trained_size or 256) // pipeline.scale, 8))
            probe.update(lr=lr, hr=hr, torch=_sr_with(pipeline, reference, lr))
        candidate_sr = _sr_with(pipeline, runtime, probe["lr"])
        pipeline.runtime = reference
        delta, agreement, reason = compare(candidate_sr, probe["torch"], probe["hr"])
        record = Validation(key=key, candidate=name, passed=reason is None, reason=reason or "passed",
                            delta_psnr_db=round(delta, 6), agreement_psnr_db=round(agreement, 3),
                            manifest_sha256=manifest)
        write_record(record)
        return record
