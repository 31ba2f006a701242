"""What the benchmark ran on: CPU/GPU model, cores, memory, load, software versions and peak FLOP/s.

Timings from a busy shared machine are worth little (reference export.md §1.4: a concurrent job
made a UNet step 8x slower), so the load average is recorded before and after every run and a
machine whose 1-minute load exceeds half its cores is flagged as busy.
"""

from __future__ import annotations

import functools
import os
import platform
from importlib import metadata
from typing import Any

BUSY_LOAD_PER_CORE = 0.5

# Dense (no sparsity) peak TFLOP/s from NVIDIA's spec sheets: fp16/bf16 tensor cores with fp32
# accumulation, and plain fp32 (CUDA cores, no TF32). Matched by substring of the device name,
# most specific first.
GPU_PEAK_TFLOPS: tuple[tuple[str, float, float], ...] = (
    # (name substring, fp16/bf16 tensor dense, fp32)
    ("H200", 989.4, 66.9),
    ("H100 PCIe", 756.5, 51.2),
    ("H100 NVL", 835.5, 60.0),
    ("H100", 989.4, 66.9),  # SXM5
    ("GH200", 989.4, 66.9),
    ("B200", 2250.0, 80.0),
    ("A100", 312.0, 19.5),
    ("L40S", 362.0, 91.6),
    ("L40", 181.0, 90.5),
    ("L4", 121.0, 30.3),
    ("A10G", 70.0, 31.2),
    ("A10", 125.0, 31.2),
    ("RTX 4090", 165.2, 82.6),
    ("RTX 3090", 71.0, 35.6),
    ("V100", 125.0, 15.7),
    ("T4", 65.0, 8.1),
)


def _cpuinfo() -> dict[str, str]:
    """First processor block of /proc/cpuinfo (empty off Linux)."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    if info:
                        break
                    continue
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown CPU"


def cpu_cores() -> int:
    """CPUs this process may run on (affinity), else the logical CPU count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages, or None where the OS has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def busy_reason(load: list[float] | None, cores: int) -> str | None:
    """Why the machine counts as busy (1-minute load > cores x 0.5), or None."""
    if load is None or load[0] <= cores * BUSY_LOAD_PER_CORE:
        return None
    return (
        f"machine busy before the run: 1-minute load average {load[0]:.2f} > {BUSY_LOAD_PER_CORE} x {cores} cores; "
        "timings are likely inflated, rerun on an idle machine"
    )


def cpu_flops_per_cycle(precision: str = "fp32") -> tuple[int, str]:
    """FLOP per cycle per core in ``precision``, estimated from the instruction-set flags.

    bf16 is native with AMX (1024 FLOP/cycle per tile unit) or AVX512_BF16 (a bf16 dot product does
    twice the FLOPs of an fp32 FMA of the same width); elsewhere bf16 runs at the fp32 rate.
    """
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    if precision == "bf16" and "amx_bf16" in flags:
        return 1024, "AMX bf16"
    if precision == "bf16" and "avx512_bf16" in flags:
        fp32, isa = cpu_flops_per_cycle("fp32")
        return 2 * fp32, f"AVX512_BF16 dot products, 2x fp32 ({isa})"
    vendor = info.get("vendor_id", "")
    family = int(info.get("cpu family", "0") or 0)
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and family < 26:  # Zen 4 runs AVX-512 on two 256-bit FMA pipes
            return 32, "AVX-512 on 2x256-bit FMA pipes (Zen 4)"
        return 64, "AVX-512, 2 FMA units"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2, 2 FMA units"
    if "avx" in flags:
        return 16, "AVX"
    return 8, "SSE"


def cpu_clock_ghz() -> float | None:
    """Maximum (else current) clock in GHz."""
    try:
        import psutil

        freq = psutil.cpu_freq()
    except Exception:  # noqa: BLE001 - psutil may not report on some platforms
        freq = None
    if freq is not None:
        mhz = freq.max or freq.current
        if mhz:
            return mhz / 1000
    mhz = _cpuinfo().get("cpu MHz")
    return float(mhz) / 1000 if mhz else None


def gemm_gflops(dtype: str = "fp32", n: int = 1024, repeats: int = 5) -> float:
    """Best-of-``repeats`` rate of an ``n`` x ``n`` matmul on the CPU (torch's threads): an achievable peak."""
    import time

    import torch

    torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    a, b = (torch.randn(n, n).to(torch_dtype) for _ in range(2))
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


@functools.cache  # one measurement per run and precision, so every variant uses the same peak
def cpu_peak_gflops(threads: int, precision: str = "fp32") -> tuple[float | None, str]:
    """CPU peak of ``threads`` cores: the larger of the nominal estimate (cores x clock x FLOP/cycle) and a
    measured matmul rate in ``precision`` (bf16 measured as bf16, everything else as fp32).

    In a VM the reported clock is often the base clock while the cores boost higher, so the nominal
    figure can be below what a matmul reaches; the measured rate then stands in for the peak.
    """
    ghz = cpu_clock_ghz()
    dtype = "bf16" if precision == "bf16" else "fp32"
    per_cycle, isa = cpu_flops_per_cycle(dtype)
    measured = round(gemm_gflops(dtype), 1)
    if ghz is None:
        return measured, f"measured {dtype} 1024x1024 matmul rate {measured:.0f} GFLOP/s (no clock reported)"
    nominal = round(threads * ghz * per_cycle, 1)
    text = (f"max of nominal {dtype} {nominal:.0f} GFLOP/s ({threads} cores x {ghz:.2f} GHz x {per_cycle} FLOP/cycle, "
            f"{isa}) and a measured {dtype} 1024x1024 matmul rate {measured:.0f} GFLOP/s")
    return max(nominal, measured), text


def gpu_peak_tflops(name: str, precision: str) -> tuple[float | None, str]:
    """Dense peak TFLOP/s of a known GPU for ``precision`` ('fp32', 'fp16' or 'bf16')."""
    for key, half, single in GPU_PEAK_TFLOPS:
        if key.lower() in name.lower():
            value = single if precision == "fp32" else half
            kind = "fp32 CUDA cores" if precision == "fp32" else "fp16/bf16 tensor, dense"
            return value, f"spec sheet ({key}, {kind})"
    return None, f"unknown GPU {name!r} (pass --peak-gflops)"


def peak_gflops(device: str, precision: str, threads: int, override: float | None = None) -> tuple[float | None, str]:
    """Peak GFLOP/s used for the 'fraction of peak' column, and where the number comes from."""
    if override is not None:
        return float(override), "given (--peak-gflops)"
    if device.startswith("cuda"):
        name = gpu_info(device)
        if name is None:
            return None, "no CUDA device"
        tflops, source = gpu_peak_tflops(name["name"], precision)
        return (tflops * 1000 if tflops is not None else None), source
    return cpu_peak_gflops(threads, precision)


def gpu_info(device: str = "cuda") -> dict[str, Any] | None:
    """Name, memory, compute capability and driver of the CUDA device, or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    index = (torch.device(device).index or 0) if device.startswith("cuda") else 0
    props = torch.cuda.get_device_properties(index)
    return {
        "name": props.name,
        "memory_gb": round(props.total_memory / 2**30, 1),
        "capability": f"{props.major}.{props.minor}",
        "multiprocessors": props.multi_processor_count,
        "cuda": torch.version.cuda,
        "count": torch.cuda.device_count(),
    }


def versions(packages: tuple[str, ...] = ("zoo", "zoo-export", "torch", "diffusers", "onnx", "onnxruntime",
                                          "openvino", "tensorrt", "numpy")) -> dict[str, str | None]:
    """Installed versions (None where absent), read from package metadata without importing."""
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def describe_machine(device: str = "cpu") -> dict[str, Any]:
    """The machine section of a benchmark report."""
    import torch

    try:
        import psutil

        memory_gb: float | None = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:  # noqa: BLE001
        memory_gb = None
    cores = cpu_cores()
    load = load_average()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "memory_gb": memory_gb,
        "gpu": gpu_info(device) if device.startswith("cuda") else None,
        "load_average_before": load,
        "busy": busy_reason(load, cores) is not None,
        "versions": versions(),
    }


def summary(machine: dict[str, Any]) -> str:
    """One line naming the machine, e.g. 'AMD EPYC, 2 cores, 23.4 GiB (no GPU)'."""
    text = f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GiB RAM"
    gpu = machine.get("gpu")
    return text + (f", GPU {gpu['name']} ({gpu['memory_gb']} GiB)" if gpu else ", no GPU used")
