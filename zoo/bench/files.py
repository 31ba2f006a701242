"""``zoo bench --files N``: a folder's throughput through ``zoo sr``'s own file loop
(:func:`zoo.data.sr_files.run_jobs`: read, SR, write, manifest), against the pipeline call alone.

N synthetic 16-bit PNGs of the benchmark's LR size go to a temporary folder and are super-resolved into
another (both removed afterwards). The marginal time per image is ``(T(N) - T(1)) / (N - 1)``: the folder's
time less that of a one-file folder (the run's fixed costs), per extra file; its ratio to the pipeline call
on one image of the same backend, timed interleaved with it, says what the file side costs (1.0: nothing).
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["files_report", "synthetic_inputs"]

logger = logging.getLogger(__name__)


def synthetic_inputs(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """``count`` random 16-bit grayscale PNGs of ``size``² pixels in ``folder`` (created)."""
    from zoo.data.writers import write_png

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = [folder / f"image{i:04d}.png" for i in range(count)]
    for path in paths:
        write_png(path, (rng.random((size, size)) * 65535).astype(np.uint16), bits=16)
    return paths


def _folder_seconds(pipe: Any, inputs: list[Path], out: Path, options: Any) -> float:
    """Wall seconds of ``run_jobs`` over ``inputs`` into the new folder ``out`` (every file must succeed)."""
    from zoo.bench.target import BenchError
    from zoo.data.sr_files import plan_jobs, run_jobs

    jobs, errors = plan_jobs([str(p) for p in inputs], out)
    start = time.perf_counter()
    result = run_jobs(pipe, jobs, out, options)
    seconds = time.perf_counter() - start
    if errors or result.failed or len(result.written) != len(inputs):
        raise BenchError(f"--files: the file loop failed on {errors or result.failed}")
    return seconds


def _call_seconds(pipe: Any, lr: Any, cfg: Any) -> float:
    """Wall seconds of one pipeline call on ``lr`` (the end-to-end call of ``zoo bench``)."""
    start = time.perf_counter()
    pipe(lr, seed=cfg.seed, steps=cfg.steps, sampler=cfg.sampler, progress=False, tile=cfg.tile)
    return time.perf_counter() - start


def files_report(pipe: Any, lr: Any, count: int, backend: str, cfg: Any,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The ``files`` section of a report: ``count`` files of ``lr``'s size through the file loop on ``pipe`` (the
    ``backend`` variant). The pipeline call on ``lr`` (one image) is timed interleaved with the one-file
    folders, half before and half after the ``count``-file folder, so a machine whose load drifts during the
    run weighs on both sides of the ratio alike."""
    from zoo.data.sr_files import SROptions

    log = log or logger.info
    lr_size = int(lr.shape[-1])
    options = SROptions(seed=cfg.seed, steps=cfg.steps, sampler=cfg.sampler, batch_size=cfg.batch, tile=cfg.tile)
    runs = max(2, cfg.runs)
    calls: list[float] = []
    one: list[float] = []
    with tempfile.TemporaryDirectory(prefix="zoo-bench-files-") as tmp:
        root = Path(tmp)
        inputs = synthetic_inputs(root / "in", count, lr_size, cfg.seed)
        log(f"files: (pipeline call + one-file folder) x 1+{runs}, around one {count}-file folder")
        _folder_seconds(pipe, inputs[:1], root / "warmup", options)
        _call_seconds(pipe, lr, cfg)
        for i in range(runs):
            if i == runs // 2:
                whole = _folder_seconds(pipe, inputs, root / "all", options)
            calls.append(_call_seconds(pipe, lr, cfg))
            one.append(_folder_seconds(pipe, inputs[:1], root / f"one{i}", options))
    call_ms = 1000 * statistics.median(calls)
    one_s = statistics.median(one)
    marginal_ms = 1000 * (whole - one_s) / (count - 1) if count > 1 else 1000 * whole
    return {
        "backend": backend,
        "files": count,
        "lr_size": lr_size,
        "format": "png16",
        "seconds": round(whole, 4),
        "images_per_s": round(count / whole, 4),
        "one_file_ms": round(1000 * one_s, 3),
        "marginal_ms_per_image": round(marginal_ms, 3),
        "pipeline_call_ms_per_image": round(call_ms, 3),
        "ratio_to_pipeline_call": round(marginal_ms / call_ms, 3),
    }
