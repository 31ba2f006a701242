"""``make gpu-check``: on a CUDA machine, run the GPU tests and the GPU benchmark, write one markdown report.

    python scripts/gpu_check.py --out benchmarks/results/gpu-check.md

1. ``pytest -m gpu`` over the test suites (slow tests included), summary kept for the report;
2. ``zoo bench`` at the paper's geometry (medvae-4-3, 64² LR -> 256² HR, paper UNet, random
   weights) with every backend variant (torch eager fp32 as the reference, torch bf16/fp16,
   torch-compile, ONNX Runtime fp32/fp16, TensorRT) and the seed-code baseline; then the demo
   geometry (the embedded default pipeline) when the package has one.

The report (and a JSON file beside it) is written atomically. Without CUDA the script says so and
exits 0 without touching the report. Exit code 1 if the GPU tests failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_gpu_tests() -> tuple[int, str]:
    """``pytest -m gpu`` (slow tests too); returns the exit code and the summary lines."""
    env = {**os.environ, "ZOO_RUN_SLOW": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rfEs", "--no-header"], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    summary = [ln for ln in lines if ln.startswith(("FAILED", "ERROR", "SKIPPED"))] + lines[-1:]
    return proc.returncode, "\n".join(summary)


def run_benchmarks(runs: int, warmup: int, backends: str, cache_dir: str | None) -> list[tuple[str, dict]]:
    """The paper-geometry benchmark (with baseline) and, when available, the demo-geometry one."""
    from zoo.assets import DEFAULT_PIPELINE_DIR
    from zoo.bench.runner import BenchConfig, run_bench

    def log(message: str) -> None:
        print(f"gpu-check: {message}", file=sys.stderr)

    reports = []
    paper = BenchConfig(vae="medvae-4-3", untrained=True, size=256, backends=backends, device="cuda", runs=runs,
                        warmup=warmup, steps=10, baseline=True, cache_dir=cache_dir)
    reports.append(("Paper geometry (medvae-4-3, 64² -> 256², paper UNet, random weights)", run_bench(paper, log)))
    if DEFAULT_PIPELINE_DIR.is_dir():
        demo = BenchConfig(backends=backends, device="cuda", runs=runs, warmup=warmup, baseline=True,
                           cache_dir=cache_dir)
        reports.append(("Demo geometry (the embedded default pipeline)", run_bench(demo, log)))
    return reports


def render(test_code: int | None, test_summary: str, reports: list[tuple[str, dict]]) -> str:
    from zoo.bench.markdown import to_markdown

    lines = ["# zoo GPU check", ""]
    if test_code is not None:
        status = "passed" if test_code == 0 else ("no GPU tests collected" if test_code == 5 else "**FAILED**")
        lines += ["## GPU tests (`pytest -m gpu`, slow tests included)", "", f"Result: {status}.", "",
                  "```", test_summary or "(no output)", "```", ""]
    for title, report in reports:
        body = to_markdown(report, title).replace("\n## ", "\n### ").replace("# " + title, "## " + title, 1)
        lines += [body, ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/gpu-check.md", help="markdown report to write")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up calls per measurement")
    parser.add_argument("--backends", default="all", help="zoo bench --backends")
    parser.add_argument("--cache-dir", default=None, help="cache of exported stages")
    parser.add_argument("--skip-tests", action="store_true", help="benchmark only")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print(f"gpu-check: no CUDA device on this machine (torch {torch.__version__}, built for CUDA "
              f"{torch.version.cuda or 'none'}): the GPU tests and the GPU benchmark need one. Nothing was run; "
              f"{args.out} is left as it is.")
        return 0
    code, summary = (None, "") if args.skip_tests else run_gpu_tests()
    reports = run_benchmarks(args.runs, args.warmup, args.backends, args.cache_dir)

    from zoo.folders.atomic import write_text

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, render(code, summary, reports))
    write_text(out.with_suffix(".json"), json.dumps({"tests_exit_code": code, "tests_summary": summary,
                                                     "reports": [r for _, r in reports]}, indent=2) + "\n")
    print(f"gpu-check: wrote {out} and {out.with_suffix('.json')}")
    return 1 if code not in (None, 0, 5) else 0


if __name__ == "__main__":
    sys.exit(main())
