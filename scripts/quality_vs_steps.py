"""PSNR against sampler steps for each sampler, on the bundled held-out images with the embedded default.

    python scripts/quality_vs_steps.py --out benchmarks/results/quality-vs-steps.md

The same measurement as ``zoo bench --quality`` without the latency part (PSNR does not depend on
the machine's load, so this can run on a busy machine). Writes the markdown report and a JSON
file beside it (the ``quality`` section of docs/bench.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/quality-vs-steps.md", help="markdown report to write")
    parser.add_argument("--pipeline", default=None, help="saved pipeline folder (default: the embedded default)")
    parser.add_argument("--data", default=None, help="prepared dataset folder (default: the bundled samples)")
    parser.add_argument("--steps", default="1,2,4,8,16,32,64,1000", help="step counts; the largest is the reference")
    parser.add_argument("--samplers", default="ddim,dpmpp-2m,ddpm,cold", help="samplers to compare")
    parser.add_argument("--images", type=int, default=None, help="use at most this many held-out images")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    from zoo.bench.machine import describe_machine, summary
    from zoo.bench.markdown import quality_section
    from zoo.bench.quality import quality_report
    from zoo.bench.runner import BenchConfig
    from zoo.folders.atomic import write_text

    steps = tuple(sorted({int(s) for s in args.steps.split(",")}))
    cfg = BenchConfig(pipeline=args.pipeline, quality_steps=steps, quality_images=args.images, quality_data=args.data)

    def log(message: str) -> None:
        print(f"quality: {message}", file=sys.stderr)

    quality = quality_report(cfg, args.device, log, samplers=tuple(args.samplers.split(",")))
    machine = describe_machine(args.device)
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = ["# Quality against sampler steps", "",
             f"Created {created} by `python scripts/quality_vs_steps.py {' '.join(argv or sys.argv[1:])}` "
             f"on {summary(machine)}.", "",
             "Mean PSNR (dB; whole image, data range 1, SR clipped to [0, 1]) of the held-out (test split) images "
             f"from `{quality['data']}`, seed 0 for every run. The last column is the fewest steps whose PSNR "
             f"is at most {quality['tolerance_db']} dB below that of {quality['reference_steps']} steps.", "",
             *quality_section(quality),
             "Wall seconds per run (all images in one batch; a shared machine, so indicative only - "
             "`zoo bench` gives trustworthy latencies):", ""]
    for curve in quality["samplers"]:
        lines.append(f"- `{curve['sampler']}`: " + ", ".join(f"{k}: {s:.1f} s" for k, s in
                                                             zip(quality["steps"], curve["seconds"], strict=True)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, "\n".join(lines) + "\n")
    write_text(out.with_suffix(".json"), json.dumps({"created": created, "machine": machine, "quality": quality},
                                                    indent=2) + "\n")
    print(f"quality: wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
