"""``zoo bench --files N``: a folder's throughput through ``zoo sr``'s own file loop
(:func:`zoo.data.sr_files.run_jobs`: read, SR, write, manifest), against the pipeline call alone.

N synthetic 16-bit PNGs of the benchmark's LR size go to a temporary folder and are super-resolved into
another (both removed afterwards). The marginal time per image is ``(T(N) - T(1)) / (N - 1)``: the folder's
time less that of a one-file folder (the run's fixed costs), per extra file; its ratio to the end-to-end
pipeline call of the same backend in the same run says what the file side costs (1.0: nothing).
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
    from zoo.bench.runner import BenchError
    from zoo.data.sr_files import plan_jobs, run_jobs

    jobs, errors = plan_jobs([str(p) for p in inputs], out)
    start = time.perf_counter()
    result = run_jobs(pipe, jobs, out, options)
    seconds = time.perf_counter() - start
    if errors or result.failed or len(result.written) != len(inputs):
        raise BenchError(f"--files: the file loop failed on {errors or result.failed}")
    return seconds


def files_report(pipe: Any, lr_size: int, count: int, call_ms: float | None, backend: str, cfg: Any,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The ``files`` section of a report: ``count`` files of ``lr_size``² through the file loop on ``pipe``
    (the ``backend`` variant, whose end-to-end pipeline call took ``call_ms`` per image)."""
    from zoo.data.sr_files import SROptions

    log = log or logger.info
    options = SROptions(seed=cfg.seed, steps=cfg.steps, sampler=cfg.sampler, batch_size=cfg.batch, tile=cfg.tile)
    with tempfile.TemporaryDirectory(prefix="zoo-bench-files-") as tmp:
        root = Path(tmp)
        inputs = synthetic_inputs(root / "in", count, lr_size, cfg.seed)
        runs = max(1, cfg.runs)
        log(f"files: one-file folder x 1+{runs}, {count}-file folder x 1")
        _folder_seconds(pipe, inputs[:1], root / "warmup", options)
        one = [_folder_seconds(pipe, inputs[:1], root / f"one{i}", options) for i in range(runs)]
        whole = _folder_seconds(pipe, inputs, root / "all", options)
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
        "pipeline_call_ms_per_image": None if call_ms is None else round(call_ms, 3),
        "ratio_to_pipeline_call": None if not call_ms else round(marginal_ms / call_ms, 3),
    }
