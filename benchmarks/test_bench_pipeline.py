"""Per-stage and end-to-end latency of the SR pipeline for every backend variant, two geometries.

* ``paper``: medvae-4-3 (3x64x64 latent), the paper UNet, 64x64 LR -> 256x256 HR, random weights;
* ``demo``: the embedded default pipeline (skipped if the package has none).

Stages: ``encode`` (the LR image), one ``denoise`` evaluation, ``decode``; ``end_to_end`` is the
whole ``pipe(lr)`` call per image with the pipeline's sampler (``ZOO_BENCH_STEPS`` steps for the
paper geometry, default 10). Variants: torch eager fp32, torch bf16, torch-compile (GPU), ONNX
Runtime fp32 and fp16, OpenVINO fp32 and bf16 (CPU), TensorRT (GPU); unavailable ones are skipped
with the reason.

Run: ``pytest benchmarks/test_bench_pipeline.py --benchmark-only [-k "demo and onnxruntime"]``.
Rounds: ``ZOO_BENCH_ROUNDS`` (default 3) after one warm-up. Nothing is asserted about time;
``zoo bench`` gives the same figures with ratios, FLOPs and peak fractions (docs/bench.md).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from zoo.bench.target import (
    Geometry,
    backend_options,
    geometry_report,
    lr_images,
    pipeline_geometry,
    stage_inputs,
    with_backend,
)
from zoo.bench.timing import synchronizer
from zoo.bench.variants import KNOWN

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

ROUNDS = int(os.environ.get("ZOO_BENCH_ROUNDS", "3"))
PAPER_STEPS = int(os.environ.get("ZOO_BENCH_STEPS", "10"))
CACHE_DIR = os.environ.get("ZOO_BENCH_CACHE")  # exported stages; default: the backend's temp cache
GEOMETRIES = ("paper", "demo")
VARIANTS = [pytest.param(name, marks=pytest.mark.gpu) if v.cuda_only else name for name, v in KNOWN.items()]
STAGES = ("encode", "denoise", "decode")

_PIPELINES: dict[str, tuple[Any, Geometry]] = {}
_RUNTIMES: dict[tuple[str, str], Any] = {}


def _pipeline(geometry: str) -> tuple[Any, Geometry]:
    if geometry not in _PIPELINES:
        import zoo

        if geometry == "paper":
            torch.manual_seed(0)  # same random weights every run, so exported stages are reused from the cache
            pipe = zoo.build_pipeline(vae="medvae-4-3", denoiser="unet", sampler="ddim", steps=PAPER_STEPS,
                                      pretrained=False, pretrained_denoiser=False, hr_size=256, device=DEVICE)
        else:
            from zoo.assets import DEFAULT_PIPELINE_DIR

            if not DEFAULT_PIPELINE_DIR.is_dir():
                pytest.skip(f"no embedded default pipeline at {DEFAULT_PIPELINE_DIR} (run `make weights`)")
            pipe = zoo.load_pipeline(DEFAULT_PIPELINE_DIR, device=DEVICE)
        _PIPELINES.clear()  # one geometry in memory at a time
        _RUNTIMES.clear()
        _PIPELINES[geometry] = (pipe, pipeline_geometry(pipe, None if geometry == "demo" else 256))
    return _PIPELINES[geometry]


def _variant_pipeline(geometry: str, name: str) -> tuple[Any, Geometry]:
    pipe, g = _pipeline(geometry)
    key = (geometry, name)
    if key not in _RUNTIMES:
        variant = KNOWN[name]
        try:
            _RUNTIMES[key] = with_backend(pipe, variant, backend_options(variant, g, 1, CACHE_DIR))
        except ImportError as err:
            _RUNTIMES[key] = f"{name} not installed: {err}"
        except Exception as err:  # noqa: BLE001 - report as a skip, the other variants still run
            _RUNTIMES[key] = f"{name} could not be prepared: {type(err).__name__}: {err}".splitlines()[0]
    clone = _RUNTIMES[key]
    if isinstance(clone, str):
        pytest.skip(clone)
    return clone, g


def synchronized(fn):
    """``fn`` then wait for the device: pytest-benchmark's timer must not stop before the CUDA work ends."""
    sync = synchronizer(DEVICE)

    def call(*args: Any) -> Any:
        out = fn(*args)
        sync()
        return out

    return call


def _info(benchmark, geometry: str, name: str, g: Geometry) -> None:
    v = KNOWN[name]
    benchmark.extra_info.update(geometry=geometry, backend=v.backend, precision=v.precision, device=DEVICE,
                                threads=torch.get_num_threads(), **geometry_report(g))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_stage(benchmark, geometry: str, stage: str, name: str) -> None:
    clone, g = _variant_pipeline(geometry, name)
    inputs = stage_inputs(g, 1, DEVICE)[stage]
    fn = synchronized(getattr(clone.runtime, stage))
    benchmark.group = f"{geometry} {stage}"
    _info(benchmark, geometry, name, g)
    with torch.inference_mode():
        out = benchmark.pedantic(fn, args=inputs, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    assert torch.isfinite(out.float()).all()


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_end_to_end_per_image(benchmark, geometry: str, name: str) -> None:
    clone, g = _variant_pipeline(geometry, name)
    lr = lr_images(g, 1, DEVICE)
    benchmark.group = f"{geometry} end to end (1 image, {clone.num_steps} steps)"
    _info(benchmark, geometry, name, g)
    benchmark.extra_info["steps"] = clone.num_steps
    sr = benchmark.pedantic(synchronized(lambda: clone(lr, seed=0, progress=False)), rounds=ROUNDS, warmup_rounds=1,
                            iterations=1)
    assert sr.shape[-1] == g.hr_size
