#!/usr/bin/env python
"""How well the uncertainty map predicts zoo's error on held-out images, beside the no-model baseline map.

    python scripts/uncertainty_report.py      # -> benchmarks/results/uncertainty.md + uncertainty.json

Per held-out (test) image and per modality: ratio mean(map) / mean(|SR - HR|), Spearman(map, |SR - HR|),
error lift of the top 10 % map pixels, AUROC for the pixels where zoo is worse than bicubic by > 1/255
(zoo/evaluate/uncertainty.py), for the pipeline's map (weights fitted on val + train by scripts/fit_uncertainty.py)
and for the baseline (5x5 mean |SR - bicubic| + half the 5x5 mean of bicubic's gradient magnitude). Also
the synthetic unfamiliar images of scripts/synthetic_report.py, and the time the map adds to a run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

GOALS = {"ratio_band": (0.67, 1.5), "ratio_share": 0.9, "lift": 3.0, "auroc": 0.82, "overhead": 0.10}
MACHINE = "2-core AMD EPYC Zen 4 CPU, no GPU (torch CPU, 2 threads)"
FIGURES = ("ratio", "spearman", "lift", "auroc")


def _pair(item) -> tuple[torch.Tensor, np.ndarray]:
    from zoo.data.pngio import load_unit

    return torch.from_numpy(load_unit(item.lr).astype("float32"))[None, None], load_unit(item.hr)


def _scores(image) -> dict[str, dict[str, float]]:
    from zoo.evaluate.uncertainty import map_of, score

    return {"model": score(map_of(image, WEIGHTS), image), "baseline": score(image.baseline(), image)}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means of each figure per map, the share of images whose ratio lies in the band, the count."""
    lo, hi = GOALS["ratio_band"]
    out: dict[str, Any] = {"n": len(rows)}
    for kind in ("model", "baseline"):
        figures = {f: float(np.nanmean([r[kind][f] for r in rows])) for f in FIGURES}
        ratios = np.array([r[kind]["ratio"] for r in rows])
        figures["ratio_in_band"] = float(np.mean((ratios >= lo) & (ratios <= hi)))
        out[kind] = figures
    return out


def held_out_rows(pipe, split: str) -> list[dict[str, Any]]:
    from zoo.evaluate.heldout import held_out
    from zoo.evaluate.uncertainty import collect

    rows = []
    for item in held_out(split):
        image = collect(pipe, *_pair(item), item.id, item.modality)
        rows.append({"id": item.id, "modality": item.modality, "mean_error": float(image.error.mean()),
                     **_scores(image)})
    return rows


def synthetic_rows(pipe) -> list[dict[str, Any]]:
    """The synthetic images: the figures, and the mean map where zoo loses to bicubic vs elsewhere."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from synthetic_report import synthetic_images

    from zoo.evaluate.uncertainty import collect, map_of
    from zoo.ops.consistency import lanczos_downsample

    rows = []
    for name, hr in synthetic_images().items():
        image = collect(pipe, lanczos_downsample(hr[None, None], 4).clamp(0, 1), hr.numpy(), name, "synthetic")
        u, worse = map_of(image, WEIGHTS), image.worse
        where = {"map_where_worse": float(u[worse].mean()) if worse.any() else float("nan"),
                 "map_elsewhere": float(u[~worse].mean()), "worse_share": float(worse.mean())}
        rows.append({"id": name, "modality": "synthetic", "mean_error": float(image.error.mean()), **where,
                     **_scores(image)})
    return rows


def overhead(pipe, split: str, count: int = 4, repeats: int = 3) -> dict[str, float]:
    """Seconds for ``count`` held-out LR images without and with the map (best of ``repeats``, one run; the
    order alternates so that neither always runs first)."""
    from zoo.data.readers import read_image
    from zoo.evaluate.heldout import held_out

    arrays = [read_image(item.lr).array for item in held_out(split)[:count]]
    best = {"without": float("inf"), "with": float("inf")}
    runs = (("without", {}), ("with", {"uncertainty": True}))
    for k in range(repeats):
        for key, extra in runs if k % 2 == 0 else runs[::-1]:
            start = time.perf_counter()
            pipe(arrays, seed=0, progress=False, **extra)
            best[key] = min(best[key], time.perf_counter() - start)
    return {**best, "images": count, "repeats": repeats, "overhead": best["with"] / best["without"] - 1.0}


def _table(rows: list[dict[str, Any]], name_key: str = "id") -> list[str]:
    head = "| image | modality | " + " | ".join(f"{f} (map / baseline)" for f in FIGURES) + " |"
    lines = [head, "|---" * (2 + len(FIGURES)) + "|"]
    for r in rows:
        cells = [f"{r['model'][f]:.2f} / {r['baseline'][f]:.2f}" for f in FIGURES]
        lines.append(f"| {r[name_key]} | {r['modality']} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    o, goals = result["overall"], GOALS
    m, b = o["model"], o["baseline"]
    lines = [
        "# Uncertainty map: calibration on the held-out split",
        "",
        f"Pipeline: {result['pipeline']} (uncertainty_weights {json.dumps(result['weights'])}, fitted on the "
        f"val + train splits, {len(result['fitted_on'])} images (the shape: step 1)"
        + (f", and {len(result['calibration'])} unseen calibration images of `scripts/make_calibration.py` (with the "
           "val image, they set the noise weight and scale: step 2 of the fit)" if result.get("calibration") else "")
        + f"). Split scored: {result['split']} ({o['n']} images). "
        f"Machine: {MACHINE}. Written by `scripts/uncertainty_report.py`.",
        "",
        "## Goals (issue 23)",
        "",
        "| figure | goal | map | baseline | met |",
        "|---|---|---|---|---|",
        f"| images with ratio in [0.67, 1.5] | >= 90 % | {m['ratio_in_band']:.0%} | {b['ratio_in_band']:.0%} | "
        f"{'yes' if m['ratio_in_band'] >= goals['ratio_share'] else 'no'} |",
        f"| mean error lift (top 10 %) | >= 3.0, > baseline | {m['lift']:.2f} | {b['lift']:.2f} | "
        f"{'yes' if m['lift'] >= goals['lift'] and m['lift'] > b['lift'] else 'no'} |",
        f"| mean AUROC, zoo worse than bicubic by > 1/255 | >= 0.82, > baseline | {m['auroc']:.3f} | "
        f"{b['auroc']:.3f} | {'yes' if m['auroc'] >= goals['auroc'] and m['auroc'] > b['auroc'] else 'no'} |",
        f"| mean Spearman(map, error) | (reported) | {m['spearman']:.3f} | {b['spearman']:.3f} | |",
        f"| time with the map / without - 1 | <= 10 % | {result['cost']['overhead']:+.1%} | | "
        f"{'yes' if result['cost']['overhead'] <= goals['overhead'] else 'no'} |",
        "",
        "## Per modality (means; ratio share = images with ratio in [0.67, 1.5])",
        "",
        "| modality | n | ratio share | ratio | Spearman | lift | AUROC |",
        "|---|---|---|---|---|---|---|",
    ]
    for mod, s in result["per_modality"].items():
        sm, sb = s["model"], s["baseline"]
        lines.append(f"| {mod} | {s['n']} | {sm['ratio_in_band']:.0%} / {sb['ratio_in_band']:.0%} | "
                     + " | ".join(f"{sm[f]:.2f} / {sb[f]:.2f}" for f in FIGURES) + " |")
    lines += ["", "Cells: map / baseline.", "", "## Per image", "", *_table(result["per_image"]), "",
              "## Synthetic unfamiliar images (scripts/synthetic_report.py)", "",
              "| image | share of pixels where zoo is worse | mean map there | mean map elsewhere | lift | AUROC |",
              "|---|---|---|---|---|---|"]
    for r in result["synthetic"]:
        lines.append(f"| {r['id']} | {r['worse_share']:.1%} | {r['map_where_worse'] * 255:.2f}/255 | "
                     f"{r['map_elsewhere'] * 255:.2f}/255 | {r['model']['lift']:.2f} / {r['baseline']['lift']:.2f} | "
                     f"{r['model']['auroc']:.2f} / {r['baseline']['auroc']:.2f} |")
    c = result["cost"]
    lines += ["", f"Cost: {c['images']} test LR images, best of {c['repeats']} (alternating order): "
              f"{c['without']:.2f} s without the map, {c['with']:.2f} s with it ({c['overhead']:+.1%}).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results", help="folder for uncertainty.md and .json")
    parser.add_argument("--split", default="test", choices=["test"], help="the held-out split")
    parser.add_argument("--calibration", default=None,
                        help="the prepared calibration folder the weights were also fitted on (listed in the report)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)

    from zoo.assets import DEFAULT_PIPELINE_DIR
    from zoo.evaluate.heldout import held_out
    from zoo.pipeline import load_pipeline

    global WEIGHTS
    pipe = load_pipeline(DEFAULT_PIPELINE_DIR)
    WEIGHTS = pipe.uncertainty_weights
    rows = held_out_rows(pipe, args.split)
    modalities = sorted({r["modality"] for r in rows})
    result = {
        "pipeline": "embedded default", "weights": WEIGHTS,
        "fitted_on": [i.id for part in ("val", "train") for i in held_out(part)],
        "calibration": [i.id for i in held_out("val", args.calibration)] if args.calibration else [],
        "split": args.split, "machine": MACHINE, "goals": GOALS, "overall": _summary(rows),
        "per_modality": {m: _summary([r for r in rows if r["modality"] == m]) for m in modalities},
        "per_image": rows, "synthetic": synthetic_rows(pipe), "cost": overhead(pipe, args.split),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "uncertainty.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "uncertainty.md").write_text(markdown(result))
    o = result["overall"]
    print(f"map: in band {o['model']['ratio_in_band']:.0%}, lift {o['model']['lift']:.2f}, AUROC "
          f"{o['model']['auroc']:.3f}; baseline lift {o['baseline']['lift']:.2f}, AUROC {o['baseline']['auroc']:.3f}; "
          f"overhead {result['cost']['overhead']:+.1%}; wrote {out / 'uncertainty.md'}")
    return 0


WEIGHTS: dict[str, float] = {}

if __name__ == "__main__":
    sys.exit(main())
