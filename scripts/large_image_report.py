"""Large-image figures of docs/large-images.md: peak RSS of `zoo sr`, time per pixel, tiled vs untiled PSNR.

    python scripts/large_image_report.py                 # every part -> benchmarks/results/large-images.json
    python scripts/large_image_report.py --parts time    # one part (the others already in the JSON are kept)

Parts:

* ``rss``: peak RSS (``ru_maxrss`` of the child, as ``/usr/bin/time -v`` reports it) of a real
  ``zoo sr`` process (with and without ``--uncertainty``) and of ``pipe([array])`` on a 2048² (and
  1024²: ``--rss-sides``) 16-bit PNG (a mosaic of the bundled 256² sample slices) with the
  embedded default, and of medvae-4-3 + the paper UNet (random weights, ``--paper-steps`` DDIM steps)
  on a ``--paper-lr``² crop of it;
* ``time``: time per HR pixel of the embedded default at 256² and 1024² LR, run alternately in this
  one process (``--reps`` each, the minimum kept), and their ratio: on a loaded machine only the ratio
  of two sizes measured side by side means something;
* ``tiles``: PSNR against HR of tiled (``--tiles``) vs untiled runs, per image, on the bundled
  held-out images (256² HR) and on 2 x 2 mosaics of them (512² HR, LR by the same LANCZOS
  downsampling as ``zoo prepare``).

RSS and PSNR do not depend on the machine's load; times do (the ratio much less).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PARTS = ("rss", "time", "tiles")


def mosaic(side: int, seed: int = 0) -> np.ndarray:
    """A ``side``² uint16 image tiled from the bundled 256² 16-bit sample slices (in a seeded order)."""
    from PIL import Image

    import zoo

    root = Path(zoo.__file__).resolve().parent / "assets" / "samples" / "slices"
    slices = [np.asarray(Image.open(f)) for f in sorted(glob.glob(str(root / "*" / "*.png")))]
    slices = [s for s in slices if s.shape == (256, 256) and s.dtype == np.uint16]
    order = np.random.default_rng(seed).permutation(len(slices))
    n = -(-side // 256)
    rows = [np.concatenate([slices[order[(r * n + c) % len(slices)]] for c in range(n)], 1) for r in range(n)]
    return np.ascontiguousarray(np.concatenate(rows, 0)[:side, :side])


def _save_png(array: np.ndarray, path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def zoo_sr_peak_rss(inputs: Path, out: Path, *args: str) -> dict[str, Any]:
    """Run ``zoo sr INPUTS --out OUT ARGS`` as a child process: its peak RSS (bytes) and wall time."""
    return child_peak_rss([sys.executable, "-m", "zoo", "sr", str(inputs), "--out", str(out), *args],
                          "zoo sr " + " ".join([str(inputs), "--out", str(out), *args]))


# ``pipe(lr)`` in a child process: the embedded default on one 16-bit PNG read as an array
PIPE_CHILD = """import sys
import zoo
from zoo.assets import DEFAULT_PIPELINE_DIR
from zoo.data.readers import read_image
pipe = zoo.load_pipeline(DEFAULT_PIPELINE_DIR)
sr = pipe([read_image(sys.argv[1]).array], seed=0, progress=False)[0]
print(sr.shape, sr.dtype)
"""


def pipe_peak_rss(png: Path) -> dict[str, Any]:
    """Peak RSS of ``pipe([array])`` (the embedded default) on ``png``, in a child process."""
    return child_peak_rss([sys.executable, "-c", PIPE_CHILD, str(png)], f"pipe([read_image({png.name}).array])")


def child_peak_rss(cmd: list[str], label: str) -> dict[str, Any]:
    """Run ``cmd`` as a child process: its peak RSS (bytes) and wall time."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as output:  # not a pipe: a long progress log would fill it and block the child
        proc = subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        output.seek(0)
        log = output.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{log}")
    return {"command": label, "peak_rss_bytes": usage.ru_maxrss * 1024,
            "peak_rss_gb": round(usage.ru_maxrss * 1024 / 1e9, 3), "peak_rss_gib": round(usage.ru_maxrss / 2**20, 3),
            "wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1)}


def part_rss(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Peak RSS of `zoo sr`: the embedded default at 2048² LR, medvae-4-3 + the paper UNet at --paper-lr²."""
    import torch

    import zoo

    image = mosaic(2048)
    found: dict[str, Any] = {"limit_gb": 1.5, "limit_uncertainty_gb": 2.5}
    for side in args.rss_sides:
        png = _save_png(image[:side, :side], work / f"in{side}" / f"mosaic{side}.png")
        runs = {"": zoo_sr_peak_rss(png.parent, work / f"out{side}", "-q"),
                "_uncertainty": zoo_sr_peak_rss(png.parent, work / f"out{side}-map", "-q", "--uncertainty"),
                "_pipe": pipe_peak_rss(png)}
        for suffix, run in runs.items():
            run.update(lr=side, hr=4 * side, pipeline="embedded default", tile="auto")
            found[f"default_{side}{suffix}"] = run
            print(f"rss: embedded default {side}² LR{suffix}: {run['peak_rss_gb']} GB", flush=True)
    if args.paper_lr <= 0:  # the previous medvae-4-3 + UNet figure is kept (main)
        return found

    torch.manual_seed(0)
    paper = zoo.build_pipeline("medvae-4-3", "unet", "ddim", steps=args.paper_steps, pretrained=False, hr_size=256)
    paper.save_pretrained(work / "paper")
    lr = args.paper_lr
    crop = _save_png(image[:lr, :lr], work / f"in{lr}" / f"mosaic{lr}.png")
    medvae = zoo_sr_peak_rss(crop.parent, work / f"out{lr}-paper", "--pipeline", str(work / "paper"))
    medvae.update(lr=lr, hr=4 * lr, pipeline=f"medvae-4-3 + paper UNet, random weights, {args.paper_steps} DDIM steps",
                  tile="auto")
    print(f"rss: medvae-4-3 + UNet {lr}² LR: {medvae['peak_rss_gb']} GB", flush=True)
    return {**found, "medvae_unet": medvae}


def part_time(args: argparse.Namespace) -> dict[str, Any]:
    """Time per HR pixel of the embedded default at two LR sizes, alternately in this process."""
    import zoo
    from zoo.assets import DEFAULT_PIPELINE_DIR

    pipe = zoo.load_pipeline(DEFAULT_PIPELINE_DIR)
    image = mosaic(1024)
    sizes = (256, 1024)
    best: dict[int, float] = {}
    for rep in range(args.reps + 1):  # rep 0 warms up
        for lr in sizes:
            start = time.perf_counter()
            pipe([image[:lr, :lr]], seed=0, progress=False)
            took = time.perf_counter() - start
            if rep:
                best[lr] = min(best.get(lr, float("inf")), took)
            print(f"time: {lr}² LR rep {rep}: {took:.2f} s", flush=True)
    per_pixel = {lr: 1e9 * best[lr] / (4 * lr) ** 2 for lr in sizes}
    return {
        "reps": args.reps, "statistic": "minimum", "tile": "auto",
        "sizes": {str(lr): {"hr": 4 * lr, "seconds": round(best[lr], 3), "ns_per_hr_pixel": round(per_pixel[lr], 2)}
                  for lr in sizes},
        "ratio_1024_over_256": round(per_pixel[1024] / per_pixel[256], 3), "limit": 1.3,
    }


def _psnr_deltas(pipe: Any, pairs: list[tuple[str, np.ndarray, np.ndarray]], tiles: list[int]) -> dict[str, Any]:
    """Per pair: PSNR of the untiled run against HR, and tiled minus untiled for each tile size."""
    from zoo.evaluate.metrics import psnr

    rows = []
    for ident, lr, hr in pairs:
        full = float(np.iinfo(lr.dtype).max)
        row: dict[str, Any] = {"id": ident}
        whole = psnr(pipe([lr], seed=0, progress=False, tile="off")[0] / full, hr)
        row["psnr_off"] = round(whole, 3)
        for tile in tiles:
            row[f"delta_{tile}"] = round(psnr(pipe([lr], seed=0, progress=False, tile=tile)[0] / full, hr) - whole, 3)
        rows.append(row)
    summary = {}
    for tile in tiles:
        d = np.array([r[f"delta_{tile}"] for r in rows])
        summary[str(tile)] = {"mean": round(float(d.mean()), 3), "min": round(float(d.min()), 3),
                              "max": round(float(d.max()), 3), "max_abs": round(float(np.abs(d).max()), 3)}
    return {"per_image": rows, "summary": summary}


def part_tiles(args: argparse.Namespace) -> dict[str, Any]:
    """Tiled vs untiled PSNR against HR on the held-out images and on 2 x 2 mosaics of them."""
    import zoo
    from zoo.assets import DEFAULT_PIPELINE_DIR
    from zoo.data.degradations import pil_resize
    from zoo.data.readers import read_image
    from zoo.evaluate.heldout import held_out

    pipe = zoo.load_pipeline(DEFAULT_PIPELINE_DIR)
    items = held_out("test")
    pairs = []
    for item in items:
        lr, hr = read_image(item.lr).array, read_image(item.hr).array
        pairs.append((item.id, lr, hr.astype(np.float64) / float(np.iinfo(hr.dtype).max)))
    result = {"heldout": {"n": len(pairs), "hr": 256, **_psnr_deltas(pipe, pairs, args.tiles)}}
    print(f"tiles: held-out {result['heldout']['summary']}", flush=True)
    big = []
    for k in range(0, len(pairs) - 3, 4):
        hr = np.block([[pairs[k][2], pairs[k + 1][2]], [pairs[k + 2][2], pairs[k + 3][2]]])
        lr = np.clip(pil_resize(hr.astype(np.float32), 128), 0, 1)
        big.append((f"mosaic-{k // 4}", np.rint(lr * 65535).astype(np.uint16), hr))
    result["mosaics"] = {"n": len(big), "hr": 512, **_psnr_deltas(pipe, big, ["auto", *args.tiles])}
    print(f"tiles: 512² mosaics {result['mosaics']['summary']}", flush=True)
    result["limit_db"] = 0.05
    return result


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import torch

    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**30, 1), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "load_average": [round(v, 2) for v in os.getloadavg()],
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/large-images.json")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--reps", type=int, default=3, help="timed runs of each size (after one warm-up)")
    parser.add_argument("--tiles", default="128,192", help="HR tile sides compared with untiled runs")
    parser.add_argument("--paper-lr", type=int, default=512,
                        help="LR side of the medvae-4-3 + UNet RSS run (1024: 4x the time; 0: skip it and keep "
                             "the figure already in --out)")
    parser.add_argument("--rss-sides", default="2048,1024",
                        help="LR sides of the embedded default's RSS runs (each: zoo sr, zoo sr --uncertainty, pipe)")
    parser.add_argument("--paper-steps", type=int, default=2, help="DDIM steps of the medvae-4-3 + UNet RSS run")
    parser.add_argument("--work", default=None, help="keep inputs and outputs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    args.tiles = [int(t) for t in args.tiles.split(",") if t]
    args.rss_sides = [int(t) for t in args.rss_sides.split(",") if t]
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}")

    from zoo.folders.atomic import write_text

    out = Path(args.out)
    report = json.loads(out.read_text()) if out.is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        for part in parts:
            start = time.perf_counter()
            result = {"rss": lambda: part_rss(args, work), "time": lambda: part_time(args),
                      "tiles": lambda: part_tiles(args)}[part]()
            result["machine"] = machine()
            result["measured_s"] = round(time.perf_counter() - start, 1)
            if part == "rss" and "medvae_unet" not in result and "medvae_unet" in report.get(part, {}):
                result["medvae_unet"] = report[part]["medvae_unet"]  # measured earlier, with its own machine
            report[part] = result
            out.parent.mkdir(parents=True, exist_ok=True)
            write_text(out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
