"""The benchmark: every variant's stages and SR call timed in one process, ratios against torch eager.

``run_bench(BenchConfig(...))`` returns the report (a JSON-ready dict, schema in docs/bench.md).
Variants that cannot run here (no CUDA, backend not installed) are listed as ``skipped`` with
the reason; one that fails is listed as ``failed`` and the others still run.
"""

from __future__ import annotations

import datetime as _dt
import logging
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from zoo.bench import SCHEMA
from zoo.bench.flops import count_flops
from zoo.bench.machine import busy_reason, describe_machine, load_average, peak_gflops
from zoo.bench.target import (
    BenchError,
    CountingRuntime,
    backend_options,
    geometry_report,
    lr_images,
    pipeline_geometry,
    stage_inputs,
    with_backend,
)
from zoo.bench.timing import time_call
from zoo.bench.variants import REFERENCE, Variant, parse_variants
from zoo.ops.geometry import Geometry

__all__ = ["BenchConfig", "BenchError", "run_bench"]

logger = logging.getLogger(__name__)

STAGES = ("encode", "denoise", "decode")
# Speed targets of the export work (goals, reported as measured; never asserted).
CPU_STAGE_TARGET, CPU_E2E_TARGET, GPU_E2E_TARGET = 1.5, 1.8, 2.5
CPU_EXPORT_VARIANTS = ("onnxruntime", "openvino-bf16")  # the exported CPU paths the CPU targets are read for


@dataclass
class BenchConfig:
    """Options of one ``zoo bench`` run (see ``zoo bench --help``)."""

    pipeline: str | None = None
    vae: str | None = None
    vae_weights: str | None = None
    untrained: bool = False
    denoiser_preset: str | None = None
    backends: str | tuple[str, ...] = "torch,onnxruntime"
    device: str | None = None
    size: int | None = None
    scale: int | None = None
    batch: int = 1
    sampler: str | None = None
    steps: int | None = None
    runs: int = 5
    warmup: int = 1
    peak_gflops: float | None = None
    end_to_end: bool = True
    baseline: bool = False
    full_baseline: bool = False
    baseline_steps: int = 1000
    quality: bool = False
    quality_steps: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 1000)
    quality_images: int | None = None
    quality_data: str | None = None
    cache_dir: str | None = None
    seed: int = 0
    tile: int | str | None = None  # end-to-end tiling (None: the pipeline's automatic choice); stages at tile size
    files: int | None = None  # folder throughput through zoo sr's file loop on this many images (zoo.bench.files)


def _device(requested: str | None) -> str:
    from zoo.utils.devices import DeviceError, resolve_device

    try:
        return resolve_device(requested)
    except DeviceError as err:
        raise BenchError(f"--{err}") from None


def load_target(cfg: BenchConfig, device: str) -> Any:
    """The pipeline to benchmark: ``--pipeline DIR``, ``--vae NAME`` + default denoiser, or the embedded default."""
    import zoo

    if cfg.vae:
        denoiser_config = {"preset": cfg.denoiser_preset} if cfg.denoiser_preset else {}
        torch.manual_seed(cfg.seed)  # the same random weights every run: exported stages come from the cache
        try:
            vae = zoo.build_autoencoder(cfg.vae, weights=cfg.vae_weights, pretrained=not cfg.untrained)
            denoiser = zoo.default_denoiser(vae, cfg.size or 256, **denoiser_config)
            return zoo.build_pipeline(vae, denoiser, cfg.sampler or "ddim", steps=cfg.steps, scale=cfg.scale or 4,
                                      device=device)
        except (ValueError, KeyError, LookupError) as err:
            raise BenchError(f"--vae {cfg.vae}: {err}") from err
    if cfg.pipeline:
        try:
            return zoo.load_pipeline(cfg.pipeline, device=device)
        except (ValueError, OSError, KeyError) as err:
            raise BenchError(f"{cfg.pipeline}: {err}") from err
    from zoo.assets import DEFAULT_PIPELINE_DIR

    if not DEFAULT_PIPELINE_DIR.is_dir():
        raise BenchError(f"the embedded default pipeline is missing ({DEFAULT_PIPELINE_DIR}); run `make weights` "
                         "or pass --pipeline DIR / --vae NAME --untrained")
    return zoo.load_pipeline(DEFAULT_PIPELINE_DIR, device=device, backend="torch")


def _stage_calls(runtime: Any, inputs: dict[str, tuple[torch.Tensor, ...]]) -> dict[str, Callable[[], Any]]:
    return {
        "encode": lambda: runtime.encode(*inputs["encode"]),
        "denoise": lambda: runtime.denoise(*inputs["denoise"]),
        "decode": lambda: runtime.decode(*inputs["decode"]),
    }


def _rate(entry: dict[str, Any], gflop: float | None, peak: float | None) -> None:
    """Add achieved GFLOP/s and the fraction of ``peak`` to a timing entry."""
    if gflop is None:
        entry["gflop_per_s"] = entry["fraction_of_peak"] = None
        return
    rate = gflop / (entry["median_ms"] / 1000)
    entry["gflop_per_s"] = round(rate, 2)
    entry["fraction_of_peak"] = round(rate / peak, 5) if peak else None


def _skip_reason(variant: Variant, device: str) -> str | None:
    if variant.cuda_only and not device.startswith("cuda"):
        return f"needs a CUDA device (running on {device})"
    if variant.cpu_only and device != "cpu":
        return f"runs on the CPU only (benchmark device {device})"
    return None


def _validation_summary(runtime: Any) -> dict[str, Any] | None:
    """The runtime's own check against its reference (backends that validate when built), in brief."""
    report = getattr(runtime, "validation", None)
    if not report:
        return None
    e2e = report.get("end_to_end") or {}
    return {"reference": report.get("reference"), "passed": report.get("passed"),
            "stage_rel_diff": {name: s.get("rel_diff") for name, s in report.get("stages", {}).items()},
            "end_to_end_delta_psnr_db": e2e.get("delta_psnr_db"), "end_to_end_tolerance_db": e2e.get("tolerance_db")}


def _unavailable(err: Exception) -> bool:
    """A missing package or device (ImportError, or a backend's ``...Unavailable`` error): skip, not fail."""
    return isinstance(err, ImportError) or type(err).__name__.endswith("Unavailable")


def _measure_variant(variant: Variant, pipe: Any, g: Geometry, cfg: BenchConfig, device: str,
                     flops: dict[str, Any], log: Callable[[str], None], stage_g: Geometry | None = None,
                     ) -> dict[str, Any]:
    """Stages (at ``stage_g``, one tile's geometry when tiled) and (optionally) the whole SR call of one variant."""
    stage_g = stage_g or g
    peak, source = peak_gflops(device, variant.precision, torch.get_num_threads(), cfg.peak_gflops)
    result: dict[str, Any] = {**variant.to_dict(), "device": device, "status": "ok", "reason": None,
                              "setup_s": None, "validation": None, "peak_gflops": peak, "peak_source": source,
                              "stages": {}}
    reason = _skip_reason(variant, device)
    if reason:
        return {**result, "status": "skipped", "reason": reason}
    log(f"{variant.name}: preparing the runtime")
    start = time.perf_counter()
    try:
        clone = with_backend(pipe, variant, backend_options(variant, stage_g, cfg.batch, cfg.cache_dir))
    except Exception as err:  # noqa: BLE001 - one backend failing must not stop the others
        status = "skipped" if _unavailable(err) else "failed"
        return {**result, "status": status, "reason": f"{type(err).__name__}: {err}".splitlines()[0]}
    result["setup_s"] = round(time.perf_counter() - start, 2)
    effective = getattr(clone.runtime, "precision", None)
    if isinstance(effective, str) and effective != variant.precision:
        result["precision"] = effective
        result["reason"] = f"ran {effective}: {variant.precision} is not available on this machine"
        peak, source = peak_gflops(device, effective, torch.get_num_threads(), cfg.peak_gflops)
        result.update(peak_gflops=peak, peak_source=source)  # "of peak" against the precision that ran
    result["validation"] = _validation_summary(clone.runtime)
    inputs = stage_inputs(stage_g, cfg.batch, device, cfg.seed)
    try:
        with torch.inference_mode():
            for stage, call in _stage_calls(clone.runtime, inputs).items():
                log(f"{variant.name}: {stage} x {cfg.warmup}+{cfg.runs}")
                entry = time_call(call, cfg.runs, cfg.warmup, device).to_dict()
                _rate(entry, flops[stage]["gflop"], peak)
                result["stages"][stage] = entry
        if cfg.end_to_end:
            result["stages"]["end_to_end"] = _time_end_to_end(clone, g, cfg, device, flops, peak, log, variant.name)
    except Exception as err:  # noqa: BLE001
        return {**result, "status": "failed", "reason": f"{type(err).__name__}: {err}".splitlines()[0]}
    return result


def _time_end_to_end(pipe: Any, g: Geometry, cfg: BenchConfig, device: str, flops: dict[str, Any],
                     peak: float | None, log: Callable[[str], None], name: str) -> dict[str, Any]:
    counter = CountingRuntime(pipe.runtime)
    pipe.runtime = counter
    lr = lr_images(g, cfg.batch, device, cfg.seed)
    calls, images = [], []

    def run() -> None:
        before, seen = counter.denoise_calls, dict(counter.images)
        pipe(lr, seed=cfg.seed, steps=cfg.steps, sampler=cfg.sampler, progress=False, tile=cfg.tile)
        calls.append(counter.denoise_calls - before)
        images.append({stage: counter.images[stage] - seen[stage] for stage in seen})

    log(f"{name}: end to end x {cfg.warmup}+{cfg.runs}")
    entry = time_call(run, cfg.runs, cfg.warmup, device).to_dict()
    evaluations = calls[-1]
    entry["denoiser_evaluations"] = evaluations
    entry["stage_passes"] = {stage: n / cfg.batch for stage, n in images[-1].items()}
    entry["ms_per_image"] = round(entry["median_ms"] / cfg.batch, 3)
    entry["images_per_s"] = round(1000 * cfg.batch / entry["median_ms"], 4)
    entry["ns_per_hr_pixel"] = round(1e6 * entry["median_ms"] / (cfg.batch * g.hr_size**2), 3)
    _rate(entry, _end_to_end_flops(flops, entry["stage_passes"]), peak)
    return entry


def _end_to_end_flops(flops: dict[str, Any], passes: dict[str, float]) -> float | None:
    """GFLOP of one SR call: each stage's FLOPs (at the configured batch) times its passes."""
    if any(flops[s]["gflop"] is None for s in STAGES):
        return None
    return sum(passes[s] * flops[s]["gflop"] for s in STAGES)


def _count_stage_flops(pipe: Any, g: Geometry, cfg: BenchConfig, device: str) -> dict[str, Any]:
    """FLOPs of each stage at the configured batch, counted on the torch eager fp32 runtime."""
    from zoo.backends.torch import TorchRuntime

    runtime = TorchRuntime(pipe.vae, pipe.denoiser)
    inputs = stage_inputs(g, cfg.batch, device, cfg.seed)
    out = {}
    for stage, call in _stage_calls(runtime, inputs).items():
        try:
            out[stage] = count_flops(call).to_dict()
        except Exception as err:  # noqa: BLE001 - FLOPs are informative; timing goes on without them
            out[stage] = {"gflop": None, "error": f"{type(err).__name__}: {err}"}
    return out


def _speedups(results: list[dict[str, Any]]) -> None:
    reference = next((r for r in results if r["backend"] == REFERENCE and r["status"] == "ok"), None)
    for r in results:
        for stage, entry in r.get("stages", {}).items():
            ref = reference["stages"].get(stage) if reference else None
            entry["speedup_vs_reference"] = round(ref["median_ms"] / entry["median_ms"], 3) if ref else None
            entry["speedup_ceiling"] = speedup_ceiling(entry)


def speedup_ceiling(entry: dict[str, Any]) -> float | None:
    """The ratio against the reference this stage would reach at 100 % of its variant's peak:
    ``speedup_vs_reference / fraction_of_peak`` (= reference ms / (GFLOP / peak GFLOP/s)); a goal above it
    cannot be met on this machine without fewer FLOPs or a higher peak."""
    speedup, fraction = entry.get("speedup_vs_reference"), entry.get("fraction_of_peak")
    return round(speedup / fraction, 3) if speedup and fraction else None


def _targets(results: list[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    by_name = {r["backend"]: r for r in results if r["status"] == "ok"}

    def ratio(name: str, stage: str) -> float | None:
        entry = by_name.get(name, {}).get("stages", {}).get(stage)
        return entry.get("speedup_vs_reference") if entry else None

    def ceiling(name: str, stage: str) -> float | None:
        entry = by_name.get(name, {}).get("stages", {}).get(stage)
        return entry.get("speedup_ceiling") if entry else None

    def target(name: str, goal: float, measured: float | None, at_peak: float | None = None) -> dict[str, Any]:
        met = None if measured is None else measured >= goal
        return {"name": name, "target": goal, "measured": measured, "met": met, "ceiling": at_peak}

    if not device.startswith("cuda"):
        measured = [name for name in CPU_EXPORT_VARIANTS if name in by_name] or [CPU_EXPORT_VARIANTS[0]]
        out = []
        for name in measured:
            out += [target(f"CPU: {name} {s} vs torch eager", CPU_STAGE_TARGET, ratio(name, s), ceiling(name, s))
                    for s in STAGES]
            out.append(target(f"CPU: {name} end to end vs torch eager", CPU_E2E_TARGET, ratio(name, "end_to_end"),
                              ceiling(name, "end_to_end")))
        return out
    best = [v for v in (ratio("torch-compile", "end_to_end"), ratio("tensorrt", "end_to_end")) if v is not None]
    return [target("GPU: fp16 torch-compile or TensorRT end to end vs eager fp32", GPU_E2E_TARGET,
                   max(best) if best else None)]


def _config_dict(cfg: BenchConfig, pipe: Any, device: str, variants: list[Variant]) -> dict[str, Any]:
    out = asdict(cfg)
    out.update(device=device, backends=[v.name for v in variants], reference=REFERENCE,
               sampler=cfg.sampler or pipe.sampler.name, steps=cfg.steps or pipe.num_steps,
               vae=cfg.vae or getattr(getattr(pipe.vae, "card", None), "name", None),
               denoiser=getattr(getattr(pipe.denoiser, "card", None), "name", type(pipe.denoiser).__name__),
               denoiser_config=dict(getattr(pipe.denoiser, "config", {})), quality_steps=list(cfg.quality_steps))
    if not cfg.vae and not cfg.pipeline:
        out["pipeline"] = "embedded default"
    return out


def run_bench(cfg: BenchConfig, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the benchmark described by ``cfg``; returns the report (see docs/bench.md).

    Progress goes to ``log`` (default: this module's logger, at INFO).
    """
    log = log or logger.info
    if cfg.runs < 1 or cfg.warmup < 0 or cfg.batch < 1:
        raise BenchError("runs and batch must be >= 1, warmup >= 0")
    device = _device(cfg.device)
    try:
        variants = parse_variants(cfg.backends)
    except LookupError as err:
        raise BenchError(f"--backends: {err}") from err
    machine = describe_machine(device)
    warnings = [w for w in [busy_reason(machine["load_average_before"], machine["cores"])] if w]
    pipe = load_target(cfg, device)
    g = pipeline_geometry(pipe, cfg.size)
    try:
        plan = pipe.tile_plan((g.hr_size, g.hr_size), cfg.tile)
    except ValueError as err:
        raise BenchError(f"--tile {cfg.tile}: {err}") from err
    # with tiling, the stages (and export shapes) are those of one tile; the end-to-end call is the whole image
    stage_g = pipeline_geometry(pipe, plan.tile * g.downsample_factor) if plan is not None else g
    if cfg.baseline:
        from zoo.bench.baseline import zoo_default_variant

        default = zoo_default_variant(device)
        if default not in variants:
            variants.append(default)
    log(f"counting FLOPs ({stage_g.lr_size}² -> {stage_g.hr_size}², batch {cfg.batch})")
    flops = _count_stage_flops(pipe, stage_g, cfg, device)
    results = [_measure_variant(v, pipe, g, cfg, device, flops, log, stage_g) for v in variants]
    _speedups(results)
    reference = results[0]
    passes = (reference["stages"].get("end_to_end") or {}).get("stage_passes")
    if passes is not None:
        flops["end_to_end"] = {"gflop": round(_end_to_end_flops(flops, passes) or 0, 4),
                               "formula": " + ".join(f"{passes[s]:g} x {s}" for s in STAGES)}
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join(["zoo", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("zoo") else "run_bench()",
        "machine": machine,
        "warnings": warnings,
        "config": _config_dict(cfg, pipe, device, variants),
        "geometry": geometry_report(g),
        "tiling": None if plan is None else {
            "tile_hr": plan.tile * g.downsample_factor, "tile_latent": plan.tile, "overlap_latent": plan.overlap,
            "stage_geometry": geometry_report(stage_g),
        },
        "flops": flops,
        "results": results,
        "targets": _targets(results, device),
        "baseline": None,
        "quality": None,
        "files": None,
    }
    if cfg.baseline:
        from zoo.bench.baseline import baseline_report

        report["baseline"] = baseline_report(pipe, g, cfg, device, results, log)
    if cfg.quality:
        from zoo.bench.quality import quality_report

        report["quality"] = quality_report(cfg, device, lambda message: log(f"quality: {message}"))
    if cfg.files:
        report["files"] = _files(pipe, g, cfg, device, reference, log)
    machine["load_average_after"] = load_average()  # includes the benchmark's own load
    return report


def _files(pipe: Any, g: Geometry, cfg: BenchConfig, device: str, reference: dict[str, Any],
           log: Callable[[str], None]) -> dict[str, Any]:
    """The folder throughput of the reference backend (torch eager), against its pipeline call on one image."""
    from zoo.bench.files import files_report

    lr = lr_images(g, 1, device, cfg.seed)
    return files_report(pipe, lr, cfg.files, reference["backend"], cfg, log)
