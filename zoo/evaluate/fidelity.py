"""Fidelity of a pipeline on the held-out images: zoo against bicubic, Lanczos and the autoencoder's ceiling.

Each method's outputs are written as 16-bit PNGs with a ``manifest.csv`` (id, output, subject) and
scored by ``zoo eval``'s :func:`~zoo.evaluate.evaluation.evaluate_folders` against the HR images
(paired by id); zoo vs bicubic is ``zoo eval compare`` (:func:`~zoo.evaluate.compare.compare_reports`:
paired Wilcoxon, bootstrap CI, effect sizes) on PSNR and SSIM. ``scripts/fidelity_report.py``
writes the result as ``benchmarks/results/fidelity.md`` and ``fidelity.json``.
"""

from __future__ import annotations

import csv
import io
import platform
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.evaluate.heldout import METHODS, HeldOut, ae_ceiling, held_out, upsample, zoo_sr

__all__ = ["GOALS", "fidelity_markdown", "measure_fidelity", "write_fidelity"]

LABELS = {"zoo": "zoo", "bicubic": "bicubic (PIL)", "lanczos": "Lanczos (PIL)",
          "ae": "autoencoder ceiling decode(encode(HR))"}
GOALS = {"mean_gain_db": 1.0, "worst_image_db": -0.5}  # issue 14: +1 dB mean, no image 0.5 dB below bicubic


def _write_folder(folder: Path, items: Sequence[HeldOut], images: Sequence[np.ndarray], column: str) -> Path:
    """16-bit PNGs named by id and a manifest.csv (id, ``column``, subject) that ``zoo eval`` pairs by."""
    from zoo.data.writers import write_png
    from zoo.folders.atomic import write_text

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", column, "subject"])
    for item, image in zip(items, images, strict=True):
        if image is not None:
            write_png(folder / f"{item.id}.png", np.clip(image, 0, 1), bits=16)
        writer.writerow([item.id, f"{item.id}.png" if image is not None else str(item.hr), item.subject])
    write_text(folder / "manifest.csv", buf.getvalue())
    return folder


def _outputs(pipe: Any, items: Sequence[HeldOut], seed: int) -> dict[str, list[np.ndarray]]:
    from zoo.data.pngio import load_unit

    lrs = [load_unit(item.lr) for item in items]
    hrs = [load_unit(item.hr).astype(np.float64) for item in items]
    return {
        "zoo": zoo_sr(pipe, items, seed),
        "bicubic": [upsample(lr, hr.shape, "bicubic") for lr, hr in zip(lrs, hrs, strict=True)],
        "lanczos": [upsample(lr, hr.shape, "lanczos") for lr, hr in zip(lrs, hrs, strict=True)],
        "ae": [ae_ceiling(pipe, hr) for hr in hrs],
    }


def measure_fidelity(pipeline: str | Path | None = None, split: str = "test", data: str | Path | None = None,
                     seed: int = 0, device: str = "cpu", work: str | Path | None = None) -> dict[str, Any]:
    """Score every method on ``split`` of a prepared folder (default: the bundled samples); returns the JSON dict.

    ``work`` keeps the outputs and the ``zoo eval`` / ``zoo eval compare`` folders (default: a temporary folder).
    """
    from zoo.assets import DEFAULT_PIPELINE_DIR
    from zoo.evaluate.compare import compare_reports, write_compare_report
    from zoo.evaluate.evaluation import evaluate_folders
    from zoo.evaluate.report import shown_path, write_eval_report
    from zoo.pipeline.build import load_pipeline
    from zoo.weights import folder_fingerprint

    folder = Path(pipeline) if pipeline is not None else DEFAULT_PIPELINE_DIR
    pipe = load_pipeline(folder, device=device)
    items = held_out(split, data)
    with tempfile.TemporaryDirectory(prefix="zoo-fidelity-") as tmp:
        root = Path(work) if work is not None else Path(tmp)
        ref = _write_folder(root / "ref", items, [None] * len(items), "hr")
        reports: dict[str, dict[str, Any]] = {}
        for method, images in _outputs(pipe, items, seed).items():
            pred = _write_folder(root / "pred" / method, items, images, "output")
            reports[method] = {"protocol": "true-hr", **evaluate_folders(pred, ref, n_examples=0)}
            write_eval_report(reports[method], root / "eval" / method, figures=False)
        compare = {}
        for metric in ("psnr", "ssim"):
            result = compare_reports(reports["zoo"], reports["bicubic"], metric=metric, names=("zoo", "bicubic"))
            write_compare_report(result, root / f"compare-{metric}", figures=False)
            compare[metric] = {k: v for k, v in result.items() if k != "pairs"}
    per_image = _per_image(items, reports)
    return {
        "pipeline": "embedded default" if folder == DEFAULT_PIPELINE_DIR else str(folder),
        "pipeline_sha256": folder_fingerprint(folder), "split": split, "seed": seed,
        "data": shown_path(items[0].hr.parent.parent), "geometry": _geometry(items),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {_cpus()} CPU(s)",
        "methods": {m: LABELS[m] for m in METHODS}, "per_image": per_image,
        "per_modality": _per_modality(per_image), "overall": _group(per_image), "zoo_vs_bicubic": compare,
        "goals": _goals(per_image),
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _geometry(items: Sequence[HeldOut]) -> str:
    from PIL import Image

    with Image.open(items[0].lr) as lr, Image.open(items[0].hr) as hr:
        return f"{hr.width // lr.width}x, {lr.width}x{lr.height} -> {hr.width}x{hr.height}"


def _per_image(items: Sequence[HeldOut], reports: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    scores = {m: {r["id"]: r for r in report["per_image"]} for m, report in reports.items()}
    rows = []
    for item in items:
        row: dict[str, Any] = {"id": item.id, "subject": item.subject, "modality": item.modality}
        for method in METHODS:
            row[f"psnr_{method}"] = scores[method][item.id]["psnr"]
            row[f"ssim_{method}"] = scores[method][item.id]["ssim"]
        rows.append(row)
    return rows


def _group(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows), "subjects": len({r["subject"] for r in rows})}
    for method in METHODS:
        for metric in ("psnr", "ssim"):
            out[f"{metric}_{method}"] = float(np.mean([r[f"{metric}_{method}"] for r in rows]))
    gains = [r["psnr_zoo"] - r["psnr_bicubic"] for r in rows]
    out.update(psnr_gain=float(np.mean(gains)), worst_gain=float(min(gains)), wins=int(sum(g > 0 for g in gains)))
    return out


def _per_modality(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m: _group([r for r in rows if r["modality"] == m]) for m in sorted({r["modality"] for r in rows})}


def _goals(rows: Sequence[dict[str, Any]]) -> dict[str, bool]:
    overall, modalities = _group(rows), _per_modality(rows)
    return {
        f"mean PSNR >= bicubic + {GOALS['mean_gain_db']:g} dB": overall["psnr_gain"] >= GOALS["mean_gain_db"],
        "mean SSIM >= bicubic": overall["ssim_zoo"] >= overall["ssim_bicubic"],
        "each modality's mean PSNR >= bicubic": all(g["psnr_gain"] >= 0 for g in modalities.values()),
        f"no image more than {-GOALS['worst_image_db']:g} dB below bicubic": overall["worst_gain"]
        >= GOALS["worst_image_db"],
    }


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def _method_rows(group: dict[str, Any]) -> list[list[Any]]:
    return [[LABELS[m], f"{group[f'psnr_{m}']:.2f}", f"{group[f'ssim_{m}']:.4f}"] for m in METHODS]


def fidelity_markdown(result: dict[str, Any]) -> str:
    """The report as markdown (tables from the JSON dict of :func:`measure_fidelity`)."""
    overall = result["overall"]
    lines = [
        "# Fidelity on the held-out images",
        "",
        f"Pipeline: {result['pipeline']}; split `{result['split']}` of `{result['data']}` "
        f"({overall['n']} images, {overall['subjects']} subjects); {result['geometry']}; seed {result['seed']}; "
        f"machine: {result['machine']}.",
        "zoo's outputs are what `zoo sr` writes for the LR files (intensity policy: each image's own min..max). "
        "PSNR (data range 1) and SSIM (scikit-image 7x7) by `zoo eval` against the HR images, paired by id. "
        "The autoencoder ceiling bounds latent SR without a pixel-space skip; a pipeline with `pixel_skip` can "
        "exceed it.",
        "",
        "## All images",
        "",
        *_table(["method", "mean PSNR (dB)", "mean SSIM"], _method_rows(overall)),
        "",
        f"zoo - bicubic: {overall['psnr_gain']:+.2f} dB mean, worst image {overall['worst_gain']:+.2f} dB, "
        f"zoo better on {overall['wins']}/{overall['n']} images.",
        "",
        "## zoo vs bicubic, paired (`zoo eval compare`, by image)",
        "",
    ]
    rows = []
    for metric, c in result["zoo_vs_bicubic"].items():
        ci, w = c["ci_mean_diff"], c["wilcoxon"]
        rows.append([metric, c["n"], f"{c['mean_diff']:+.4f}", f"[{ci['low']:+.4f}, {ci['high']:+.4f}]",
                     f"{w['p']:.3g} ({w['method']})", f"{c['cohens_dz']:.2f}", f"{c['n_a_better']}/{c['n_b_better']}"])
    lines += _table(["metric", "n", "mean diff", "95% bootstrap CI", "Wilcoxon p (two-sided)", "d_z",
                     "zoo / bicubic better"], rows)
    lines += ["", "## Per modality", ""]
    lines += _table(["modality", "n", "subjects", *(f"PSNR {m}" for m in METHODS), *(f"SSIM {m}" for m in METHODS),
                     "zoo - bicubic (dB)", "zoo better"],
                    [[mod, g["n"], g["subjects"], *(f"{g[f'psnr_{m}']:.2f}" for m in METHODS),
                      *(f"{g[f'ssim_{m}']:.4f}" for m in METHODS), f"{g['psnr_gain']:+.2f}", f"{g['wins']}/{g['n']}"]
                     for mod, g in result["per_modality"].items()])
    lines += ["", "## Goals (issue 14)", ""]
    lines += _table(["goal", "met"], [[goal, "yes" if ok else "**no**"] for goal, ok in result["goals"].items()])
    lines += ["", "## Per image", ""]
    lines += _table(["id", "modality", *(f"PSNR {m}" for m in METHODS), *(f"SSIM {m}" for m in METHODS)],
                    [[r["id"], r["modality"], *(f"{r[f'psnr_{m}']:.2f}" for m in METHODS),
                      *(f"{r[f'ssim_{m}']:.4f}" for m in METHODS)] for r in result["per_image"]])
    lines += ["", "Regenerate: `python scripts/fidelity_report.py` (see its `--help`).", ""]
    return "\n".join(lines)


def write_fidelity(result: dict[str, Any], out_dir: str | Path, name: str = "fidelity") -> tuple[Path, Path]:
    """Write ``<name>.md`` and ``<name>.json`` into ``out_dir`` (each atomically)."""
    from zoo.evaluate.report import dumps
    from zoo.folders.atomic import write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{name}.md", out / f"{name}.json"
    write_text(js, dumps(result))
    write_text(md, fidelity_markdown(result))
    return md, js
