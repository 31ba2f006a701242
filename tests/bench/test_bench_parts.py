"""The benchmark's parts: FLOP counting, timing statistics, variants, load check, quality bookkeeping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

import zoo
from zoo.bench.flops import count_flops, sdpa_flops
from zoo.bench.machine import busy_reason, cpu_flops_per_cycle, gpu_peak_tflops, peak_gflops
from zoo.bench.markdown import to_markdown
from zoo.bench.quality import fewest_within, quality_report
from zoo.bench.runner import BenchConfig, _end_to_end_flops, speedup_ceiling
from zoo.bench.target import CountingRuntime
from zoo.bench.timing import time_call
from zoo.bench.variants import parse_variants
from zoo.data.manifest import Record, write_manifest
from zoo.registry import UnknownComponentError


def test_sdpa_hand_count_equals_counted_explicit_attention():
    q, k, v = torch.randn(2, 3, 16, 8), torch.randn(2, 3, 24, 8), torch.randn(2, 3, 24, 5)
    with FlopCounterMode(display=False) as counter:
        torch.softmax(q @ k.transpose(-1, -2) / 8**0.5, -1) @ v
    assert sdpa_flops(q, k, v) == counter.get_total_flops()

    counted = count_flops(lambda: F.scaled_dot_product_attention(q, k, v))
    assert counted.total == counter.get_total_flops()  # fused CPU kernel: added by hand; math path: counted
    assert counted.attention_by_hand == sdpa_flops(q, k, v)
    # the fused kernel (equal head dims) is what the UNets hit on CPU
    q2 = torch.randn(1, 2, 64, 16)
    fused = count_flops(lambda: F.scaled_dot_product_attention(q2, q2, q2))
    assert fused.total == sdpa_flops(q2, q2, q2)


def test_count_flops_of_a_conv_matches_formula():
    conv = torch.nn.Conv2d(4, 6, 3, padding=1, bias=False)
    x = torch.randn(1, 4, 10, 10)
    result = count_flops(lambda: conv(x))
    assert result.total == 2 * 6 * 4 * 9 * 10 * 10 and not result.attention_added


def test_time_call_counts_warmup_and_runs():
    calls = []
    timing = time_call(lambda: calls.append(1), runs=4, warmup=2)
    assert len(calls) == 6 and timing.runs == 4 and timing.warmup == 2
    assert timing.min_ms <= timing.median_ms <= timing.max_ms
    assert timing.peak_rss_mb > 0 and timing.cuda_max_allocated_mb is None
    with pytest.raises(ValueError, match="runs"):
        time_call(lambda: None, runs=0)


def test_variants_put_the_reference_first_and_resolve_aliases():
    names = [v.name for v in parse_variants("ort,trt,torch,onnxruntime")]
    assert names == ["torch", "onnxruntime", "tensorrt"]
    assert [v.name for v in parse_variants("all")][0] == "torch"
    with pytest.raises(UnknownComponentError):
        parse_variants("torch,nope")


def test_busy_reason_uses_half_the_cores():
    assert busy_reason([1.1, 0.5, 0.2], cores=2) is not None
    assert busy_reason([0.9, 3.0, 3.0], cores=2) is None
    assert busy_reason(None, cores=2) is None


def test_peak_tables():
    assert gpu_peak_tflops("NVIDIA H100 80GB HBM3", "fp16")[0] == 989.4
    assert gpu_peak_tflops("NVIDIA H100 PCIe", "fp16")[0] == 756.5
    assert gpu_peak_tflops("NVIDIA H100 80GB HBM3", "fp32")[0] == 66.9
    assert gpu_peak_tflops("Some Future GPU", "fp16")[0] is None
    assert peak_gflops("cpu", "fp32", 2, override=123.0) == (123.0, "given (--peak-gflops)")
    value, source = peak_gflops("cpu", "fp32", 2)
    assert value > 0 and "nominal" in source and "measured fp32" in source


def test_bf16_peak_is_nominal_bf16_where_the_cpu_has_it():
    from zoo.bench.machine import _cpuinfo

    flags = set(_cpuinfo().get("flags", "").split())
    fp32, bf16 = cpu_flops_per_cycle("fp32")[0], cpu_flops_per_cycle("bf16")
    native = flags & {"amx_bf16", "avx512_bf16"}
    assert bf16[0] >= 2 * fp32 if native else bf16[0] == fp32
    value, source = peak_gflops("cpu", "bf16", 2)
    assert "nominal bf16" in source and "measured bf16" in source and value > 0


def test_speedup_ceiling_is_the_ratio_at_full_peak():
    # a stage at 40 % of its peak that runs 2x the reference would run 5x at 100 %
    assert speedup_ceiling({"speedup_vs_reference": 2.0, "fraction_of_peak": 0.4}) == 5.0
    assert speedup_ceiling({"speedup_vs_reference": 2.0, "fraction_of_peak": None}) is None


def test_end_to_end_flops_count_every_self_ensemble_orientation():
    pipe = zoo.default_pipeline()
    counter = CountingRuntime(pipe.runtime)
    pipe.runtime = counter
    pipe(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)), seed=0)
    assert counter.denoise_calls == 1 and counter.images["denoise"] == 8  # one call on 8 orientations
    flops = {stage: {"gflop": 2.0} for stage in ("encode", "denoise", "decode")}
    passes = {stage: n / 1 for stage, n in counter.images.items()}
    assert _end_to_end_flops(flops, passes) == 2.0 * sum(counter.images.values())


def test_fewest_within_tolerance():
    steps = [1, 2, 4, 1000]
    assert fewest_within(steps, [20.0, 24.95, 25.0, 25.0], 0.1) == 2
    assert fewest_within(steps, [26.0, 24.0, 24.0, 25.0], 0.1) == 1  # fewer steps may do better (paper §4.5)
    assert fewest_within(steps, [20.0, 21.0, 22.0, 25.0], 0.1) == 1000


def test_markdown_marks_failures_and_unmet_targets():
    report = {
        "schema": "zoo.bench/1", "created": "now", "command": "zoo bench", "warnings": ["machine busy"],
        "machine": {"cpu": "CPU X", "cores": 2, "memory_gb": 1.0, "gpu": None, "hostname": "h", "platform": "p",
                    "python": "3", "torch_threads": 2, "load_average_before": [0, 0, 0], "versions": {"torch": "2"}},
        "config": {"pipeline": None, "vae": "v", "denoiser": "unet", "untrained": True, "device": "cpu", "batch": 1,
                   "sampler": "ddim", "steps": 2, "warmup": 0, "runs": 1, "reference": "torch"},
        "geometry": {"lr_size": 8, "hr_size": 32, "image_channels": 1, "encode_size": 8, "latent_channels": 4,
                     "latent_size": 8, "downsample_factor": 4},
        "flops": {}, "baseline": None, "quality": None,
        "results": [{"backend": "onnxruntime", "precision": "fp32", "status": "failed", "reason": "boom", "stages": {},
                     "peak_gflops": None}],
        "targets": [{"name": "CPU: x", "target": 1.5, "measured": 1.2, "met": False, "ceiling": 2.5},
                    {"name": "CPU: y", "target": 3.5, "measured": 2.4, "met": False, "ceiling": 2.8}],
    }
    text = to_markdown(report)
    assert "boom" in text and "**not met**" in text and "machine busy" in text and "CPU X" in text
    x, y = (next(line for line in text.splitlines() if line.startswith(f"| CPU: {n} ")) for n in "xy")
    assert "out of reach" not in x and "2.50x" in x
    assert "out of reach" in y and "2.80x" in y


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_gpu_check_without_cuda_says_so_and_exits_0(tmp_path):
    script = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"
    out = tmp_path / "gpu-check.md"
    proc = subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device" in proc.stdout
    assert not out.exists()


def _write_dataset(root, n: int = 2, hr: int = 32, scale: int = 4) -> None:
    rng = np.random.default_rng(0)
    (root / "hr").mkdir(parents=True)
    (root / "lr").mkdir()
    records = []
    for i in range(n):
        image = (rng.random((hr, hr)) * 255).astype(np.uint8)
        Image.fromarray(image).save(root / "hr" / f"s{i}.png")
        Image.fromarray(image).resize((hr // scale,) * 2, Image.BICUBIC).save(root / "lr" / f"s{i}.png")
        records.append(Record(id=f"s{i}", source="synthetic", slice=i, subject="a", split="test",
                              hr=f"hr/s{i}.png", lr=f"lr/s{i}.png"))
    write_manifest(root / "manifest.csv", records)


def test_quality_report_on_a_saved_pipeline(tmp_path):
    torch.manual_seed(0)
    pipe = zoo.build_pipeline(vae="zoo-demo-f4", denoiser="unet", pretrained=False, pretrained_denoiser=False,
                              hr_size=32, denoiser_config={"preset": "tiny"})
    pipe.save_pretrained(tmp_path / "pipe")
    _write_dataset(tmp_path / "data")
    cfg = BenchConfig(pipeline=str(tmp_path / "pipe"), quality_steps=(1, 3), quality_data=str(tmp_path / "data"))
    q = quality_report(cfg, "cpu", samplers=("ddim", "cold"))
    assert q["images"] == 2 and q["ids"] == ["s0", "s1"] and q["reference_steps"] == 3
    for curve in q["samplers"]:
        assert len(curve["psnr_db"]) == len(curve["seconds"]) == 2
        assert all(5 < p < 60 for p in curve["psnr_db"])
        assert curve["fewest_steps_within_tol"] in (1, 3)
