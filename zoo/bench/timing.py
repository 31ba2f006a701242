"""Time a callable: warm-up calls, then N timed calls, CUDA-synchronised, with peak memory.

pytest-benchmark and ``time.perf_counter`` know nothing of CUDA's asynchronous launches, so on a
GPU every timed call is bracketed by ``torch.cuda.synchronize()``. Peak host memory is the largest
RSS seen by a sampling thread while the timed calls run; on CUDA the peak allocated by torch's
caching allocator is read too (ONNX Runtime / TensorRT allocations are not seen by it).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Timing:
    """Latency statistics (milliseconds) of ``runs`` calls after ``warmup`` untimed ones."""

    times_ms: list[float]
    warmup: int
    peak_rss_mb: float | None = None
    cuda_max_allocated_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.times_ms)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def min_ms(self) -> float:
        return min(self.times_ms)

    @property
    def max_ms(self) -> float:
        return max(self.times_ms)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        extra = out.pop("extra")
        out["times_ms"] = [round(t, 3) for t in self.times_ms]
        out.update(runs=self.runs, median_ms=round(self.median_ms, 3), min_ms=round(self.min_ms, 3),
                   max_ms=round(self.max_ms, 3))
        out.update(extra)
        return out


class RssSampler:
    """Largest resident set size of this process while the ``with`` block runs (sampled every ``interval`` s)."""

    def __init__(self, interval: float = 0.002) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_bytes = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self.peak_bytes = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)


def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for the device's queued work (a no-op on CPU)."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def time_call(fn: Callable[[], Any], runs: int = 5, warmup: int = 1, device: str = "cpu",
              memory: bool = True) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times timed (each call synchronised on CUDA)."""
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    sync = synchronizer(device)
    cuda = str(device).startswith("cuda")
    for _ in range(warmup):
        fn()
    sync()
    if cuda:
        import torch

        torch.cuda.reset_peak_memory_stats()
    times: list[float] = []
    sampler = RssSampler() if memory else None
    if sampler is not None:
        sampler.__enter__()
    try:
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            sync()
            times.append((time.perf_counter() - start) * 1000)
    finally:
        if sampler is not None:
            sampler.__exit__()
    timing = Timing(times_ms=times, warmup=warmup)
    if sampler is not None:
        timing.peak_rss_mb = round(sampler.peak_bytes / 2**20, 1)
    if cuda:
        import torch

        timing.cuda_max_allocated_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return timing
