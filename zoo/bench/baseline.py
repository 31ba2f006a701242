"""The seed code's way against zoo's default: images/s and their ratio.

Seed code: PyTorch eager fp32 and the paper's cold sampler with K = 1000 denoiser evaluations per
image (reference paper.md §4.5-4.6). zoo's default: the exported stages (OpenVINO bf16 on a CPU
with native bf16, else ONNX Runtime; TensorRT or torch-compile on GPU) and the pipeline's few-step sampler.

A full K = 1000 run takes minutes per image on a CPU, so by default the seed figure is
*extrapolated* from the torch eager stage medians measured in the same run
(``encode + K x denoise + decode``, sampler arithmetic ignored) and labelled so; ``--full-baseline``
runs it instead (one timed call, no warm-up).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from zoo.bench.target import lr_images, with_backend
from zoo.bench.timing import time_call
from zoo.bench.variants import KNOWN, REFERENCE, Variant
from zoo.ops.geometry import Geometry


def zoo_default_variant(device: str) -> Variant:
    """The backend zoo deploys with on ``device``: on CPU, OpenVINO bf16 where the CPU has native bf16 and
    OpenVINO is installed, else ONNX Runtime; on CUDA, TensorRT (else torch-compile)."""
    if not device.startswith("cuda"):
        return KNOWN["openvino-bf16" if _openvino_native_bf16() else "onnxruntime"]
    return KNOWN["tensorrt" if importlib.util.find_spec("tensorrt") else "torch-compile"]


def _openvino_native_bf16() -> bool:
    if importlib.util.find_spec("openvino") is None:
        return False
    from zoo.utils.openvino_import import import_openvino

    return "BF16" in import_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _zoo_result(results: list[dict[str, Any]], device: str) -> dict[str, Any] | None:
    """The default variant's end-to-end result, else the fastest measured non-reference one."""
    ok = [r for r in results if r["status"] == "ok" and "end_to_end" in r["stages"]]
    default = zoo_default_variant(device).name
    chosen = next((r for r in ok if r["backend"] == default), None)
    if chosen is None:
        others = [r for r in ok if r["backend"] != REFERENCE] or ok
        chosen = min(others, key=lambda r: r["stages"]["end_to_end"]["median_ms"], default=None)
    return chosen


def _seed_extrapolated(reference: dict[str, Any], steps: int, batch: int) -> dict[str, Any]:
    s = reference["stages"]
    enc, den, dec = (s[k]["median_ms"] for k in ("encode", "denoise", "decode"))
    per_batch = enc + steps * den + dec
    return {
        "extrapolated": True,
        "formula": f"encode {enc:.1f} ms + {steps} x denoise {den:.1f} ms + decode {dec:.1f} ms "
                   f"(torch eager medians of this run, batch {batch})",
        "ms_per_batch": round(per_batch, 3),
    }


def _seed_full(pipe: Any, g: Geometry, cfg: Any, device: str, log: Callable[[str], None]) -> dict[str, Any]:
    from zoo.factory import build_sampler

    eager = with_backend(pipe, KNOWN[REFERENCE], {})
    sampler = build_sampler("cold", legacy_unstrided=True)
    lr = lr_images(g, cfg.batch, device, cfg.seed)
    log(f"seed baseline: cold sampler, K={cfg.baseline_steps}, torch eager (full run)")
    timing = time_call(lambda: eager(lr, seed=cfg.seed, steps=cfg.baseline_steps, sampler=sampler, progress=False),
                       runs=1, warmup=0, device=device)
    return {"extrapolated": False, "formula": "one full timed call, no warm-up", "ms_per_batch": timing.median_ms}


def baseline_report(pipe: Any, g: Geometry, cfg: Any, device: str, results: list[dict[str, Any]],
                    log: Callable[[str], None]) -> dict[str, Any] | None:
    """The ``baseline`` section of the report (None when torch eager or zoo's default did not run)."""
    reference = next((r for r in results if r["backend"] == REFERENCE and r["status"] == "ok"), None)
    chosen = _zoo_result(results, device)
    if reference is None or chosen is None:
        return None
    seed = _seed_full(pipe, g, cfg, device, log) if cfg.full_baseline else _seed_extrapolated(
        reference, cfg.baseline_steps, cfg.batch)
    seed_ms = seed["ms_per_batch"] / cfg.batch
    seed.update(backend=REFERENCE, precision="fp32", sampler="cold", steps=cfg.baseline_steps,
                denoiser_evaluations_per_image=cfg.baseline_steps, ms_per_image=round(seed_ms, 3),
                images_per_s=round(1000 / seed_ms, 6))
    e2e = chosen["stages"]["end_to_end"]
    zoo_side = {
        "backend": chosen["backend"], "precision": chosen["precision"],
        "sampler": cfg.sampler or pipe.sampler.name, "steps": cfg.steps or pipe.num_steps,
        "denoiser_evaluations_per_image": e2e["denoiser_evaluations"],
        "ms_per_image": e2e["ms_per_image"], "images_per_s": e2e["images_per_s"], "extrapolated": False,
    }
    return {"seed": seed, "zoo": zoo_side, "speedup": round(seed_ms / e2e["ms_per_image"], 2)}
