"""The embedded default on the bundled held-out samples: metrics vs bicubic, a figure and a short report.

``zoo demo`` and ``scripts/train_default.py`` use this. Bicubic is the paper's baseline (§4.9): PIL
BICUBIC upsampling of the LR image. PSNR (data range 1) and SSIM (skimage 7x7 uniform) per image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoResult", "evaluate_default", "format_summary", "write_demo"]


@dataclass
class DemoResult:
    """Per-image metrics and images of one demo run."""

    pipeline: str
    split: str
    sampler: str
    steps: int
    seed: int
    records: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, np.ndarray]] = field(default_factory=list)

    def mean(self, key: str) -> float:
        return float(np.mean([r[key] for r in self.records]))

    @property
    def label(self) -> str:
        """How reports name the pipeline: the embedded default, or its folder."""
        from zoo.assets import DEFAULT_PIPELINE_DIR

        return "zoo (embedded default)" if Path(self.pipeline) == DEFAULT_PIPELINE_DIR else f"zoo ({self.pipeline})"

    def summary(self) -> dict[str, Any]:
        keys = ("psnr_zoo", "psnr_bicubic", "ssim_zoo", "ssim_bicubic")
        wins = sum(r["psnr_zoo"] > r["psnr_bicubic"] for r in self.records)
        return {"n": len(self.records), **{k: self.mean(k) for k in keys}, "psnr_wins": wins,
                "pipeline": self.pipeline, "split": self.split, "sampler": self.sampler, "steps": self.steps,
                "seed": self.seed}


def evaluate_default(
    pipeline: str | Path | None = None, split: str = "test", sampler: str | None = None, steps: int | None = None,
    seed: int = 0, device: str = "cpu", limit: int | None = None,
) -> DemoResult:
    """Run a pipeline (default: the embedded one) on the bundled prepared samples of ``split``, each LR
    file as ``zoo sr`` would (seed ``seed`` for every file)."""
    from zoo.assets import DEFAULT_PIPELINE_DIR
    from zoo.data.pngio import load_unit
    from zoo.evaluate.heldout import held_out, upsample, zoo_sr
    from zoo.evaluate.metrics import psnr, ssim
    from zoo.pipeline.build import load_pipeline
    from zoo.pipeline.hub import is_hub_spec

    folder = DEFAULT_PIPELINE_DIR if pipeline is None else pipeline if is_hub_spec(pipeline) else Path(pipeline)
    pipe = load_pipeline(folder, device=device)
    items = held_out(split)[:limit]
    result = DemoResult(str(folder), split, sampler or getattr(pipe.sampler, "name", "?"),
                        int(steps or pipe.num_steps), seed)
    with_map = int(pipe.options.self_ensemble) > 1  # a map needs a spread: the ensemble's orientations
    runs = zoo_sr(pipe, items, seed, steps=steps, sampler=sampler, **({"uncertainty": True} if with_map else {}))
    for item, run in zip(items, runs, strict=True):
        sr, error_map = run if with_map else (run, None)
        hr = load_unit(item.hr).astype(np.float64)
        lr = load_unit(item.lr)
        bic = upsample(lr, hr.shape, "bicubic")
        result.records.append({
            "id": item.id, "subject": item.subject, "modality": item.modality,
            "psnr_zoo": psnr(sr, hr), "psnr_bicubic": psnr(bic, hr),
            "ssim_zoo": float(ssim(sr, hr)), "ssim_bicubic": float(ssim(bic, hr)),
            **(_map_figures(sr, hr, bic, error_map) if error_map is not None else {}),
        })
        images = {"lr": lr, "bicubic": bic, "zoo": sr, "hr": hr}
        result.images.append({**images, "uncertainty": error_map} if error_map is not None else images)
    return result


def _map_figures(sr: np.ndarray, hr: np.ndarray, bicubic: np.ndarray, error_map: np.ndarray) -> dict[str, float]:
    """The uncertainty map's calibration figures of one image (zoo.evaluate.uncertainty)."""
    from zoo.evaluate.uncertainty import ImageParts, score

    figures = score(error_map, ImageParts("", "", hr, sr, bicubic, {}))
    return {f"map_{k}": figures[k] for k in ("ratio", "lift", "auroc")}


def format_summary(result: DemoResult) -> str:
    """Three lines: mean PSNR/SSIM of zoo and of bicubic, and the per-image PSNR win count."""
    s = result.summary()
    return (
        f"{result.label}, {s['sampler']} {s['steps']} step(s): PSNR {s['psnr_zoo']:.2f} dB  SSIM {s['ssim_zoo']:.4f}\n"
        f"bicubic (PIL): PSNR {s['psnr_bicubic']:.2f} dB  SSIM {s['ssim_bicubic']:.4f}\n"
        f"{s['n']} held-out images ({s['split']} split); zoo better in PSNR on {s['psnr_wins']}/{s['n']}"
    )


_SPLIT_NOTE = {
    "test": "held out: subjects the embedded default never saw in training or validation",
    "val": "the embedded default's validation subjects, monitored during training",
    "train": "the embedded default's training images; not a measure of generalisation",
}


def _figure(result: DemoResult, path: Path, rows: int = 6) -> None:
    """LR / bicubic / zoo / HR / both error maps for ``rows`` images picked across modalities."""
    from zoo.evaluate.figures import sr_panels
    from zoo.evaluate.heldout import HeldOut, pick_by_modality

    items = [HeldOut(r["id"], r["subject"], r["modality"], Path(), Path()) for r in result.records]
    picked = pick_by_modality(items, rows)
    sr_panels([{**result.records[i], **result.images[i]} for i in picked], path)


def _geometry(result: DemoResult) -> str:
    lr, hr = result.images[0]["lr"].shape, result.images[0]["hr"].shape
    return f"{hr[0] // lr[0]}x SR from {lr[1]}x{lr[0]} to {hr[1]}x{hr[0]}"



def _report(result: DemoResult, figure: str) -> str:
    s = result.summary()
    lines = [
        "# zoo demo",
        "",
        f"{result.label} on the {s['n']} bundled samples of split `{s['split']}` ({_SPLIT_NOTE[s['split']]}), "
        f"{_geometry(result)}, sampler `{s['sampler']}` with {s['steps']} step(s), seed {s['seed']}.",
        "",
        "| method | mean PSNR (dB) | mean SSIM |",
        "|---|---|---|",
        f"| bicubic (PIL) | {s['psnr_bicubic']:.2f} | {s['ssim_bicubic']:.4f} |",
        f"| {result.label} | {s['psnr_zoo']:.2f} | {s['ssim_zoo']:.4f} |",
        "",
        f"zoo is better than bicubic in PSNR on {s['psnr_wins']}/{s['n']} images "
        f"(mean difference {s['psnr_zoo'] - s['psnr_bicubic']:+.2f} dB).",
        "",
        f"![LR / bicubic / zoo / HR / |bicubic - HR| / |zoo - HR|{' / uncertainty map' if _has_map(result) else ''}, "
        f"zoomed insets of fine detail]({figure})",
        "",
        *_map_lines(result),
        "| id | modality | PSNR zoo | PSNR bicubic | SSIM zoo | SSIM bicubic |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(result.records, key=lambda r: r["id"]):
        lines.append(f"| {r['id']} | {r['modality']} | {r['psnr_zoo']:.2f} | {r['psnr_bicubic']:.2f} | "
                     f"{r['ssim_zoo']:.4f} | {r['ssim_bicubic']:.4f} |")
    lines += ["", "PSNR: data range 1, whole image. SSIM: skimage defaults (7x7 uniform window), data range 1.", ""]
    return "\n".join(lines)


def _has_map(result: DemoResult) -> bool:
    return bool(result.records) and "map_ratio" in result.records[0]


def _map_lines(result: DemoResult) -> list[str]:
    """The uncertainty map's calibration figures (docs/uncertainty.md), where the run has maps."""
    if not _has_map(result):
        return []
    ratios = np.array([r["map_ratio"] for r in result.records])
    share = float(np.mean((ratios >= 0.67) & (ratios <= 1.5)))
    return [f"Uncertainty map (expected |zoo - HR| per pixel, docs/uncertainty.md): mean(map) / mean(error) "
            f"{np.median(ratios):.2f} (median; within [0.67, 1.5] on {share:.0%} of images), error lift of its top "
            f"10 % pixels {result.mean('map_lift'):.2f}, AUROC for pixels where zoo is worse than bicubic "
            f"{np.nanmean([r['map_auroc'] for r in result.records]):.3f}.", ""]


def write_demo(result: DemoResult, out: str | Path) -> dict[str, Path]:
    """Write ``demo.png``, ``report.md`` and ``metrics.csv`` into ``out`` (atomically each)."""
    import csv
    import io

    from zoo.folders.atomic import write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"figure": out / "demo.png", "report": out / "report.md", "metrics": out / "metrics.csv"}
    _figure(result, paths["figure"])
    write_text(paths["report"], _report(result, paths["figure"].name))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(result.records[0]), lineterminator="\n")
    writer.writeheader()
    for r in result.records:
        writer.writerow({k: f"{v:.6f}" if isinstance(v, float) else v for k, v in r.items()})
    write_text(paths["metrics"], buf.getvalue())
    return paths
