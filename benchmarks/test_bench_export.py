"""ONNX Runtime (exported by zoo-export) vs PyTorch eager on CPU: per stage and end to end, as ratios.

One run exports a pipeline, then times each stage and the whole SR call with both runtimes in the
same process, interleaved, after one warm-up (median of ``ZOO_BENCH_ROUNDS``, default 5). The
ratios (torch time / ORT time; > 1 means ORT is faster) go to the benchmark JSON's ``extra_info``
and are printed. Nothing is asserted about time.

Geometry: ``ZOO_BENCH_EXPORT=reduced`` (default: medvae-4-3 and the ``small`` UNet at reduced
width, 32 -> 128 px, so it runs in minutes on a shared CPU) or ``paper`` (medvae-4-3 + the paper
UNet, 64 -> 256 px; long on CPU).

Threads: ``ZOO_BENCH_THREADS`` (default 1) for both torch and ONNX Runtime.
Run: ``pytest benchmarks/test_bench_export.py --benchmark-only -s``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import pytest
import torch

pytest.importorskip("zoo_export")

ROUNDS = int(os.environ.get("ZOO_BENCH_ROUNDS", "5"))
MODE = os.environ.get("ZOO_BENCH_EXPORT", "reduced")
STEPS = int(os.environ.get("ZOO_BENCH_STEPS", "4"))
# Same thread count for both runtimes. On a shared, oversubscribed CPU, torch's OpenMP barriers
# make 2-thread eager calls up to ~60x slower than 1 thread (measured here), so 1 is the default.
THREADS = int(os.environ.get("ZOO_BENCH_THREADS", "1"))


def _pipeline():
    import zoo

    torch.manual_seed(0)
    if MODE == "paper":
        return zoo.build_pipeline("medvae-4-3", "unet", "ddim", steps=STEPS, pretrained=False, hr_size=256), 256
    return zoo.build_pipeline(
        "medvae-4-3", "unet", "ddim", steps=STEPS, pretrained=False, hr_size=128,
        vae_config={"block_out_channels": [64, 128, 128]}, denoiser_config={"preset": "small"},
    ), 128


def _median_ms(fn: Callable[[], object]) -> tuple[float, float, float]:
    fn()  # warm-up
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times), max(times)


@torch.inference_mode()
def test_bench_export_ort_vs_torch(benchmark, tmp_path) -> None:
    from zoo_export.exporter import ExportOptions, export_pipeline
    from zoo_export.manifest import manifest_geometry
    from zoo_export.pipelines import pipeline_from_export
    from zoo_export.runtime_ort import OrtRuntime

    from zoo.bench.machine import describe_machine

    torch.set_num_threads(THREADS)
    pipe, size = _pipeline()
    start = time.perf_counter()
    with torch.inference_mode(False):
        manifest = export_pipeline(pipe, tmp_path / "export", ExportOptions(size=size))
    export_s = time.perf_counter() - start
    exported = pipeline_from_export(tmp_path / "export", OrtRuntime.from_dir(tmp_path / "export", threads=THREADS))
    g = manifest_geometry(manifest)
    gen = torch.Generator().manual_seed(0)
    inputs = {stage: g.stage_inputs(stage, 1, gen) for stage in ("encoder", "denoiser", "decoder")}
    runtimes = {"torch": pipe.runtime, "onnxruntime": exported.runtime}
    calls = {"encoder": "encode", "denoiser": "denoise", "decoder": "decode"}
    lr = torch.rand(1, 1, g.encode_size, g.encode_size, generator=gen)
    rows = {}
    for stage, method in calls.items():
        rows[stage] = {name: _median_ms(lambda f=getattr(rt, method), x=inputs[stage]: f(*x))
                       for name, rt in runtimes.items()}
    rows["end_to_end"] = {name: _median_ms(lambda p=p: p(lr, seed=0)) for name, p in
                          (("torch", pipe), ("onnxruntime", exported))}
    ratios = {stage: round(ms["torch"][0] / ms["onnxruntime"][0], 3) for stage, ms in rows.items()}
    machine = describe_machine("cpu")
    benchmark.extra_info.update({
        "mode": MODE, "steps": STEPS, "rounds": ROUNDS, "threads": THREADS, "export_seconds": round(export_s, 1),
        "median_ms": {s: {k: round(v[0], 2) for k, v in ms.items()} for s, ms in rows.items()},
        "min_max_ms": {s: {k: [round(v[1], 2), round(v[2], 2)] for k, v in ms.items()} for s, ms in rows.items()},
        "torch_over_ort": ratios, "load_average": machine.get("load_average_before"), "cpu": machine.get("cpu"),
        "end_to_end_delta_psnr_db": manifest["end_to_end"]["delta_psnr_db"],
    })
    print(f"\nzoo-export bench ({MODE}, {THREADS} thread(s), {machine.get('cpu')}, "
          f"load {machine.get('load_average_before')}):")
    for stage, ms in rows.items():
        print(f"  {stage:10s} torch {ms['torch'][0]:9.1f} ms  ort {ms['onnxruntime'][0]:9.1f} ms  "
              f"torch/ort {ratios[stage]:.2f}x")
    benchmark.pedantic(lambda: exported(lr, seed=0), rounds=1, iterations=1)
