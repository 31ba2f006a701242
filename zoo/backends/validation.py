"""The ``auto`` backend's check of a runtime against torch, and the record that lets later runs skip it.

The probe: a deterministic phantom HR image at the pipeline's native geometry (64² LR, ``scale``-times
larger HR), its LR the HR's area mean. The whole SR call (``pipe(lr)``: self-ensemble, gate,
back-projection) runs once through torch eager and once through the candidate. The candidate passes when

* ``|PSNR(candidate SR, HR) - PSNR(torch SR, HR)| <= 0.02 dB`` (the ΔPSNR of issue #27), and
* ``PSNR(candidate SR, torch SR) >= 30 dB`` (it computes the same image, not just one as good).

The result is kept in the private cache (``<zoo cache>/auto/<key>.json``), keyed by the pipeline's weights
and options, the versions of zoo, torch and the candidate's packages, this CPU's model and flags and the
candidate's name and options. Records are written atomically; one that cannot be read, or names another
key, is ignored (the candidate is validated again).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from zoo.folders.atomic import write_text
from zoo.folders.cache import cache_dir

__all__ = ["MIN_AGREEMENT_DB", "TOLERANCE_DB", "Validation", "compare", "cpu_facts", "pipeline_fingerprint",
           "probe_pair", "read_record", "record_key", "record_path", "write_record"]

TOLERANCE_DB = 0.02
"""Largest accepted |PSNR(candidate, HR) - PSNR(torch, HR)| on the probe, in dB."""
MIN_AGREEMENT_DB = 30.0
"""Smallest accepted PSNR of the candidate's SR against torch's SR on the probe, in dB: a guard that it computes
the same image (bf16 rounding of a small random network reaches 38 dB, the embedded default 70 dB; a wrong
output far less); the ΔPSNR above is the criterion."""
PROBE_LR_SIDE = 64
RECORD_SUBDIR = "auto"
RECORD_FORMAT = 1
_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "amx_int8")


@dataclass
class Validation:
    """One candidate's result on the probe (what the record file holds)."""

    key: str
    candidate: str
    passed: bool
    reason: str
    delta_psnr_db: float | None = None
    agreement_psnr_db: float | None = None
    manifest_sha256: str | None = None
    made: float = 0.0
    format: int = RECORD_FORMAT


def cpu_facts() -> dict[str, Any]:
    """This CPU's model name and the flags that decide a runtime's speed (Linux: /proc/cpuinfo)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif name.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    return {"model": model, "flags": [f for f in _CPU_FLAGS if f in flags]}


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def pipeline_fingerprint(pipeline: Any) -> str:
    """sha256 of the pipeline's weights (autoencoder and denoiser), options and sampler."""
    digest = hashlib.sha256()
    for module in (pipeline.vae, pipeline.denoiser):
        for key, value in sorted(module.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    sampler = {"name": getattr(pipeline.sampler, "name", repr(pipeline.sampler)),
               "config": getattr(pipeline.sampler, "config", {})}
    digest.update(json.dumps([pipeline.options.to_dict(), sampler], sort_keys=True, default=repr).encode())
    return digest.hexdigest()


def record_key(fingerprint: str, candidate: str, options: dict[str, Any], packages: tuple[str, ...]) -> str:
    """The record's key: pipeline fingerprint, versions (zoo, torch, ``packages``), CPU, candidate and its options."""
    parts = {"pipeline": fingerprint, "candidate": candidate, "options": options, "cpu": cpu_facts(),
             "versions": {p: _package_version(p) for p in ("zoo", "torch", *packages)},
             "python": platform.python_version(), "tolerance_db": TOLERANCE_DB,
             "min_agreement_db": MIN_AGREEMENT_DB, "format": RECORD_FORMAT}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()


def record_path(key: str) -> Path:
    """Where the record of ``key`` lives in the private cache (the folder is created private)."""
    return cache_dir(RECORD_SUBDIR) / f"{key[:32]}.json"


def read_record(key: str) -> Validation | None:
    """The record of ``key``, or None when there is none or it cannot be used (unreadable, other key)."""
    path = record_path(key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = Validation(**data)
    except (OSError, ValueError, TypeError):
        return None
    if record.key != key or record.format != RECORD_FORMAT or not isinstance(record.passed, bool):
        return None
    return record


def write_record(record: Validation) -> Path:
    """Write ``record`` atomically (temp + rename): a reader sees the old record, the new one or none."""
    record.made = record.made or time.time()
    path = record_path(record.key)
    write_text(path, json.dumps(asdict(record), indent=1, sort_keys=True))
    return path


def probe_pair(scale: int, channels: int = 1, lr_side: int = PROBE_LR_SIDE) -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic phantom ``(lr, hr)`` in [0, 1]: ellipses of several intensities and a fine texture;
    ``lr`` (1 x C x lr_side²) is the area mean of ``hr`` (1 x C x (lr_side·scale)²)."""
    side = lr_side * scale
    axis = torch.linspace(-1.0, 1.0, side, dtype=torch.float64)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    hr = torch.full_like(x, 0.05)
    for cx, cy, rx, ry, value in ((0, 0, 0.8, 0.9, 0.45), (-0.3, 0.1, 0.2, 0.35, 0.35), (0.35, -0.2, 0.25, 0.15, 0.3),
                                  (0.1, 0.55, 0.12, 0.1, -0.2), (-0.1, -0.5, 0.3, 0.08, 0.15)):
        hr = hr + value * (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1).double()
    hr = hr + 0.04 * torch.sin(23 * x + 5 * y) * torch.cos(17 * y)
    hr = hr.clamp(0, 1).float().view(1, 1, side, side).expand(1, channels, side, side).contiguous()
    lr = torch.nn.functional.avg_pool2d(hr, scale)
    return lr, hr


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.detach().cpu().double() - b.detach().cpu().double()) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def compare(candidate_sr: torch.Tensor, torch_sr: torch.Tensor, hr: torch.Tensor) -> tuple[float, float, str | None]:
    """``(ΔPSNR, agreement PSNR, reason)``: reason is None when the candidate passes (see the module doc)."""
    delta = abs(_psnr(candidate_sr, hr) - _psnr(torch_sr, hr))
    agreement = _psnr(candidate_sr, torch_sr)
    if delta > TOLERANCE_DB:
        return delta, agreement, f"dPSNR {delta:.4f} dB > {TOLERANCE_DB} dB against torch on the probe"
    if agreement < MIN_AGREEMENT_DB:
        return delta, agreement, f"its SR is {agreement:.1f} dB from torch's (< {MIN_AGREEMENT_DB} dB) on the probe"
    return delta, agreement, None
