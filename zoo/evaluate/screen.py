"""Screen autoencoders on the user's own scans: reconstruction fidelity, latent statistics, speed.

The paper's second finding is that an autoencoder's reconstruction PSNR predicts the SR PSNR of a
latent diffusion model trained on it (R² ≈ 0.7), so ranking VAEs by reconstruction on your data
is a cheap first cut before training. :func:`sr_regression` refits that relation from earlier
`zoo eval` runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.evaluate.images import read_image
from zoo.evaluate.metrics import ms_ssim, psnr, ssim
from zoo.evaluate.pairing import REF_COLUMNS, image_set
from zoo.evaluate.report import dumps, markdown_table
from zoo.evaluate.stats import mean_std, pearson_regression
from zoo.evaluate.wavelets import band_errors, band_psnr
from zoo.folders.atomic import atomic_dir


def resolve_vaes(patterns: str | Sequence[str]) -> list[str]:
    """Registered autoencoder names for comma-separated names/aliases or wildcards ('medvae-*,sd-vae')."""
    from zoo.registry import list_components, resolve

    if isinstance(patterns, str):
        patterns = [patterns]
    items = [p.strip() for chunk in patterns for p in chunk.split(",") if p.strip()]
    names: list[str] = []
    for item in items:
        if any(ch in item for ch in "*?["):
            found = [i.name for i in list_components("autoencoder", item) if i.ok]
            if not found:
                raise ValueError(f"no registered autoencoder matches {item!r} (see `zoo list --kind autoencoder`)")
        else:
            found = [resolve("autoencoder", item).name]
        names += [n for n in found if n not in names]
    if not names:
        raise ValueError("no autoencoders given")
    return names


def load_images(data_dir: str | Path, limit: int | None = None) -> dict[str, np.ndarray]:
    """``id -> [0,1] image`` of a prepared dataset (its HR column) or a folder of images, in id order."""
    found = image_set(data_dir, REF_COLUMNS)
    ids = sorted(found.paths)[:limit] if limit else sorted(found.paths)
    return {i: read_image(found.paths[i]) for i in ids}


class _ChannelStats:
    """Running per-channel mean and std of latents (pooled over images and positions)."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | None = None
        self.total_sq: np.ndarray | None = None

    def add(self, z: np.ndarray) -> None:
        flat = z.transpose(1, 0, 2, 3).reshape(z.shape[1], -1).astype(np.float64)
        self.total = flat.sum(1) + (self.total if self.total is not None else 0)
        self.total_sq = (flat**2).sum(1) + (self.total_sq if self.total_sq is not None else 0)
        self.count += flat.shape[1]

    def result(self) -> dict[str, list[float]]:
        mean = self.total / self.count
        return {"mean": mean.tolist(), "std": np.sqrt(np.maximum(self.total_sq / self.count - mean**2, 0)).tolist()}


def screen_autoencoder(ae, images: dict[str, np.ndarray], device: str = "cpu",
                       progress: bool = False) -> dict[str, Any]:
    """Reconstruct every image (centre-cropped to a multiple of the downsample factor) and score it."""
    from tqdm import tqdm

    from zoo.evaluate.reconstruct import crop_to_multiple, round_trip

    factor = ae.downsample_factor
    first = crop_to_multiple(next(iter(images.values())), factor)
    latent_shape = "x".join(map(str, round_trip(ae, first[None], device).latents.shape[1:]))  # warm-up, not timed
    records, latent_stats = [], _ChannelStats()
    encode_s = decode_s = 0.0
    cropped = 0
    for ident, image in tqdm(images.items(), desc=ae.name, unit="img", disable=None if progress else True):
        hr = crop_to_multiple(image, factor)
        cropped += hr.shape != image.shape
        trip = round_trip(ae, hr[None], device)
        recon = trip.recon[0]
        encode_s += trip.encode_s
        decode_s += trip.decode_s
        latent_stats.add(trip.latents.numpy())
        record = {"id": ident, "psnr": psnr(recon, hr), "ssim": ssim(recon, hr), "ms_ssim": ms_ssim(recon, hr)}
        if min(hr.shape) >= 8:
            record.update({f"band_psnr_{b}": v for b, v in band_psnr(recon, hr).items()})
            record.update({f"band_rel_err_{b}": v["rel_energy_error"] for b, v in band_errors(recon, hr).items()})
        records.append(record)
    n = len(records)
    summary = {k: mean_std([r[k] for r in records]) for k in records[0] if k != "id"}
    card = ae.card
    return {
        "vae": ae.name,
        "latent": latent_shape,
        "in_channels": ae.in_channels,
        "latent_channels": ae.latent_channels,
        "downsample_factor": factor,
        "intensity": getattr(card, "intensity", None),
        "psnr": summary["psnr"]["mean"], "psnr_std": summary["psnr"]["std"],
        "ssim": summary["ssim"]["mean"], "ms_ssim": summary["ms_ssim"]["mean"],
        "summary": summary,
        "latent_stats": latent_stats.result(),
        "encode_ms_per_image": 1000 * encode_s / n,
        "decode_ms_per_image": 1000 * decode_s / n,
        "n_images": n,
        "n_cropped": int(cropped),
        "per_image": records,
    }


def screen(
    data_dir: str | Path,
    vaes: str | Sequence[str],
    *,
    weights: dict[str, str] | None = None,
    untrained: bool = False,
    limit: int | None = None,
    device: str = "cpu",
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Rank autoencoders by reconstruction PSNR on ``data_dir``; a VAE that fails to build is reported, not fatal."""
    from zoo.evaluate.reconstruct import load_autoencoder

    names = resolve_vaes(vaes)
    weights = {_canonical(k): v for k, v in (weights or {}).items()}
    unknown = [w for w in weights if w not in names]
    if unknown:
        raise ValueError(f"--weights given for {', '.join(unknown)}, which is not among the screened VAEs: "
                         f"{', '.join(names)}")
    images = load_images(data_dir, limit)
    rows, failed = [], {}
    for name in names:
        try:
            ae = load_autoencoder(name, weights=weights.get(name), untrained=untrained, device=device,
                                  overrides=overrides)
        except Exception as err:  # one unusable VAE (no weights, bad file) must not stop the screen
            failed[name] = f"{type(err).__name__}: {err}"
            continue
        rows.append(screen_autoencoder(ae, images, device=device, progress=progress))
        del ae
    rows.sort(key=lambda r: -r["psnr"] if np.isfinite(r["psnr"]) else np.inf)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return {"data_dir": str(data_dir), "n_images": len(images), "untrained": untrained, "device": device,
            "overrides": overrides or {}, "rows": rows, "failed": failed}


def _sr_point(report: dict[str, Any], source: str) -> tuple[str, float]:
    vae = report.get("vae")
    if not vae:
        raise ValueError(f"{source}: SR result has no 'vae' field (run `zoo eval ... --vae NAME`)")
    if isinstance(report.get("summary", {}).get("psnr"), dict):
        value = report["summary"]["psnr"]["mean"]
    else:
        value = report.get("psnr_mean", report.get("psnr"))
    if not isinstance(value, (int, float)):
        raise ValueError(f"{source}: SR result has no mean PSNR (summary.psnr.mean or psnr_mean)")
    return vae, float(value)


def _canonical(name: str) -> str:
    from zoo.registry import UnknownComponentError, resolve

    try:
        return resolve("autoencoder", name).name
    except (UnknownComponentError, LookupError):
        return name


def sr_regression(rows: list[dict[str, Any]], sr_reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Fit SR PSNR (from `zoo eval` reports, by VAE name) on reconstruction PSNR (paper §3.4)."""
    recon = {r["vae"]: r["psnr"] for r in rows}
    points = []
    for source, report in sr_reports.items():
        vae, sr_psnr = _sr_point(report, source)
        vae = _canonical(vae)
        if vae not in recon:
            raise ValueError(f"{source}: SR result is for {vae!r}, which was not screened ({', '.join(recon)})")
        points.append({"vae": vae, "source": source, "recon_psnr": recon[vae], "sr_psnr": sr_psnr})
    x = np.array([p["recon_psnr"] for p in points])
    y = np.array([p["sr_psnr"] for p in points])
    return {"points": points, **pearson_regression(x, y)}


SCREEN_HEADER = ["rank", "vae", "latent CxHxW", "PSNR", "±", "SSIM", "MS-SSIM", "HH1 rel err", "latent std",
                 "enc ms", "dec ms"]


def screen_table(result: dict[str, Any]) -> list[list[Any]]:
    """Rows of the ranked screening table."""
    return [[r["rank"], r["vae"], r["latent"], round(r["psnr"], 2), round(r["psnr_std"], 2), round(r["ssim"], 4),
             round(r["ms_ssim"], 4), round(r["summary"].get("band_rel_err_HH1", {}).get("mean", float("nan")), 4),
             round(float(np.mean(r["latent_stats"]["std"])), 3), round(r["encode_ms_per_image"], 1),
             round(r["decode_ms_per_image"], 1)] for r in result["rows"]]


def screen_markdown(result: dict[str, Any]) -> str:
    """Markdown report of a screen (and its SR regression when present)."""
    text = [f"# zoo screen\n\n- data: `{result['data_dir']}` ({result['n_images']} images)\n"
            f"- weights: {'random (untrained)' if result['untrained'] else 'as given / card defaults'}\n"
            f"- device: {result['device']}\n\n", markdown_table(SCREEN_HEADER, screen_table(result))]
    for name, err in result.get("failed", {}).items():
        text.append(f"\n- {name} failed: {err}")
    fit = result.get("regression")
    if fit:
        text.append("\n## Reconstruction PSNR → SR PSNR (Pearson, OLS)\n\n")
        text.append(markdown_table(["n", "r", "R²", "slope", "intercept", "p", "r 95% CI (Fisher z)"],
                                   [[fit["n"], fit["r"], fit["r2"], fit["slope"], fit["intercept"], fit["p"],
                                     f"[{fit['r_ci_low']:.3f}, {fit['r_ci_high']:.3f}]"]]))
    return "".join(text) + "\n"


SCREEN_FILES = ("screen.json", "screen.md", "screen.png", "regression.png")  # what write_screen_report writes


def write_screen_report(result: dict[str, Any], out_dir: str | Path, figures: bool = True) -> Path:
    """Write screen.json, screen.md and figures into ``out_dir`` atomically."""
    from zoo.evaluate import figures as fig

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        (tmp / "screen.json").write_text(dumps(result))
        (tmp / "screen.md").write_text(screen_markdown(result))
        if figures and result["rows"]:
            fig.ranked_bars(result["rows"], tmp / "screen.png")
            fit = result.get("regression")
            if fit:
                pts = fit["points"]
                fig.regression_plot(np.array([p["recon_psnr"] for p in pts]), np.array([p["sr_psnr"] for p in pts]),
                                    [p["vae"] for p in pts], fit, tmp / "regression.png")
    return out_dir
