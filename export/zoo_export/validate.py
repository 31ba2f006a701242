"""Parity of exported stages with PyTorch: per stage at two batch sizes, and end-to-end SR.

Tolerances are relative to the reference's peak magnitude (at least 1): fp32 files must match to
1e-4 (ORT CPU measures ~1e-6, reference export.md §1.3); fp16 files are compared with the fp32
PyTorch model, so their budget is that of fp16 rounding (~1e-2, §1.5). bf16 (OpenVINO on the CPU)
keeps 8 mantissa bits: 0.6-1.5 % per stage is measured on the embedded default, but random-weight
networks amplify rounding (9 % on the tiny test denoiser), so the stage bound (15 %) only catches a
broken compilation and the end-to-end PSNR is bf16's quality gate. The end-to-end budget is a
PSNR difference on a smooth phantom whose SR PSNR is high (~40 dB), where a rounding error shows
most: 0.01 dB for fp32, 0.25 dB for bf16, 0.5 dB for fp16.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo.backends.base import Runtime
from zoo.errors import ZooError
from zoo.ops.geometry import Geometry
from zoo.samplers.noise import randn
from zoo.samplers.sampling import sample_ddim
from zoo.samplers.schedules import linear_schedule
from zoo_export.runtime_ort import ort_runner
from zoo_export.stages import STAGE_IO

if TYPE_CHECKING:
    from zoo.pipeline.sr_pipeline import SRPipeline

STAGE_TOLERANCE = {
    "fp32": {"encoder": 1e-4, "denoiser": 1e-4, "decoder": 1e-4},
    "fp16": {"encoder": 2e-2, "denoiser": 3e-2, "decoder": 2e-2},
    "bf16": {"encoder": 0.15, "denoiser": 0.15, "decoder": 0.15},
}
E2E_DELTA_PSNR_DB = {"fp32": 0.01, "fp16": 0.5, "bf16": 0.25}
PARITY_BATCHES = (1, 3)


class ExportValidationError(ZooError, RuntimeError):
    """The exported files failed their parity checks (nothing was written)."""


class TorchStages:
    """The PyTorch reference of the three stages as a :class:`zoo.backends.base.Runtime`."""

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        self.modules = modules

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.modules["encoder"](x)

    @torch.no_grad()
    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.modules["denoiser"](x_t, t, cond)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.modules["decoder"](z)


def compare_stage(
    stage: str, module: Callable[..., torch.Tensor], session, geometry: Geometry, precision: str, seed: int = 0,
    batches: Sequence[int] = PARITY_BATCHES,
) -> dict:
    """Exported stage vs its reference on fixed inputs at each batch size; ``passed`` against the tolerance.

    ``module`` is the reference (the PyTorch stage, or any callable of torch tensors); ``session`` is
    an ONNX Runtime session or a callable ``inputs -> numpy output`` (another runtime).
    """
    tol = STAGE_TOLERANCE[precision][stage]
    run = session if callable(session) else ort_runner(session)
    gen = torch.Generator().manual_seed(seed)
    per_batch = {}
    for batch in batches:
        inputs = geometry.stage_inputs(stage, batch, gen)
        with torch.no_grad():
            ref = module(*inputs).float().numpy()
        out = np.asarray(run(inputs)).astype(np.float32)
        if out.shape != ref.shape:
            per_batch[str(batch)] = {"error": f"output shape {list(out.shape)} != PyTorch {list(ref.shape)}"}
            continue
        diff = float(np.abs(out - ref).max()) if np.isfinite(out).all() else math.inf
        per_batch[str(batch)] = {
            "max_abs_diff": diff,
            "rel_diff": diff / max(1.0, float(np.abs(ref).max())),
            "ref_max_abs": float(np.abs(ref).max()),
        }
    worst = max((b.get("rel_diff", math.inf) for b in per_batch.values()), default=math.inf)
    return {
        "inputs": list(STAGE_IO[stage][0]),
        "batches": per_batch,
        "rel_diff": _finite_or_none(worst),
        "tolerance": tol,
        "passed": worst <= tol,
    }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


@torch.no_grad()
def probe_sr(runtime: Runtime, lr: torch.Tensor, geometry: Geometry, steps: int = 2, seed: int = 0) -> torch.Tensor:
    """SR of ``lr`` (in [-1, 1], at the encoder's size) through ``runtime``'s three stages.

    A fixed deterministic chain (encode LR, nearest-upsample its latent to the HR latent size,
    ``steps`` DDIM steps on zoo's linear schedule reading the denoiser's output as x0, decode): the
    same numbers go through the PyTorch and the exported stages, so any difference comes from the export.
    """
    cond = runtime.encode(lr).float()
    side = geometry.latent_size
    if cond.shape[-1] != side:
        cond = F.interpolate(cond, size=(side, side), mode="nearest")
    schedule = linear_schedule()
    noise = randn(cond.shape, torch.Generator().manual_seed(seed), cond.device, torch.float32)
    x0 = sample_ddim(lambda x, t: runtime.denoise(x, t, cond).float(), noise, schedule.timesteps(steps),
                     schedule=schedule, disable=True)
    return runtime.decode(x0).float()


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 2.0) -> float:
    """PSNR in dB of two image tensors over a value span of ``data_range`` (:func:`zoo.evaluate.metrics.psnr`)."""
    from zoo.evaluate.metrics import psnr as unit_psnr  # scipy: only when an SR comparison runs

    return unit_psnr(x.float().cpu().numpy() / data_range, ref.float().cpu().numpy() / data_range)


def probe_images(geometry: Geometry, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth HR test image in [-1, 1] (sinusoid phantom) and its area-downsampled LR version."""
    side = geometry.hr_size
    yy, xx = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    images = [torch.sin(6.3 * (k + 1) * xx) * torch.cos(4.1 * yy + k) * 0.8 for k in range(batch)]
    hr = torch.stack(images)[:, None].repeat(1, geometry.in_channels, 1, 1)
    lr = F.interpolate(hr, size=(geometry.encode_size,) * 2, mode="area") if geometry.encode_size != side else hr
    return hr, lr


def compare_end_to_end(reference: Runtime, exported: Runtime, geometry: Geometry, precision: str) -> dict:
    """SR (fixed probe chain) through both runtimes; PSNR of each against the HR phantom, and the difference."""
    hr, lr = probe_images(geometry)
    return _sr_figures(probe_sr(reference, lr, geometry), probe_sr(exported, lr, geometry), hr, precision, "probe")


def compare_pipelines(
    reference: SRPipeline, exported: SRPipeline, geometry: Geometry, precision: str, steps: int = 2
) -> dict:
    """Two SR pipelines of one export (e.g. on its PyTorch stages and on its exported files, each opened with
    :func:`zoo_export.pipelines.pipeline_from_export`) run on the same LR images."""
    hr, _ = probe_images(geometry)
    hr01 = (hr + 1) / 2
    # the pipeline's LR input is the HR / scale, whatever size its encoder sees (bicubic-latent: the HR size)
    lr01 = F.interpolate(hr01, size=(geometry.lr_size,) * 2, mode="area").clamp(0, 1)
    outputs = [pipe(lr01, seed=0, steps=steps) for pipe in (reference, exported)]
    return _sr_figures(outputs[0] * 2 - 1, outputs[1] * 2 - 1, hr01 * 2 - 1, precision, f"pipeline, {steps} steps")


def _sr_figures(sr_ref: torch.Tensor, sr_exp: torch.Tensor, hr: torch.Tensor, precision: str, how: str) -> dict:
    finite = bool(torch.isfinite(sr_exp).all())
    p_ref, p_exp = psnr(sr_ref, hr), psnr(sr_exp, hr) if finite else -math.inf
    delta = abs(p_exp - p_ref) if finite else math.inf
    limit = E2E_DELTA_PSNR_DB[precision]
    return {
        "psnr_torch_db": p_ref,
        "psnr_export_db": _finite_or_none(p_exp),
        "delta_psnr_db": _finite_or_none(delta),
        "max_abs_diff": _finite_or_none(float((sr_exp - sr_ref).abs().max()) if finite else math.inf),
        "tolerance_db": limit,
        "how": how,
        "passed": delta <= limit,
    }
