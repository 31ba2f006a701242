"""Report figures (matplotlib, Agg backend): distributions, Bland–Altman, wavelet bands, spectrum, examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.folders.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip("."))
    _pyplot().close(fig)
    return path


def distributions(records: list[dict[str, Any]], path: Path, metrics=("psnr", "ssim", "ms_ssim")) -> Path:
    """Histograms of per-image metrics."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3))
    for ax, metric in zip(np.atleast_1d(axes), metrics, strict=True):
        values = np.array([r.get(metric, np.nan) for r in records], float)
        values = values[np.isfinite(values)]
        ax.hist(values, bins=min(30, max(5, values.size // 3)) if values.size else 5, color="tab:blue")
        ax.set_title(f"{metric} (n={values.size})")
    return _save(fig, path)


def bland_altman_plot(a: np.ndarray, b: np.ndarray, stats: dict[str, float], path: Path, label: str) -> Path:
    """Differences ``a−b`` against means with bias and limits of agreement."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter((a + b) / 2, a - b, s=8, alpha=0.6)
    for y, style in ((stats["bias"], "-"), (stats["loa_low"], "--"), (stats["loa_high"], "--")):
        ax.axhline(y, color="tab:red", linestyle=style, linewidth=1)
    ax.set_xlabel(f"mean of {label}")
    ax.set_ylabel(f"difference of {label}")
    ax.set_title(f"Bland-Altman: bias {stats['bias']:.4g}, LoA [{stats['loa_low']:.4g}, {stats['loa_high']:.4g}]")
    return _save(fig, path)


def band_bars(summary: dict[str, dict[str, float]], bands: list[str], path: Path) -> Path:
    """Mean per-band PSNR (paper definition) and relative energy error per Haar band."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    for ax, prefix, title in ((axes[0], "band_psnr_", "band PSNR (dB, per-band peak)"),
                              (axes[1], "band_rel_err_", "relative energy error")):
        means = [summary.get(prefix + b, {}).get("mean", np.nan) for b in bands]
        stds = [summary.get(prefix + b, {}).get("std", np.nan) for b in bands]
        ax.bar(bands, means, yerr=stds, color="tab:green")
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=45)
    return _save(fig, path)


def spectrum_plot(spectrum: dict[str, list[float]], path: Path) -> Path:
    """Mean radial log-power profiles of predictions and references."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = (np.arange(len(spectrum["pred"])) + 0.5) / len(spectrum["pred"])
    ax.plot(x, spectrum["pred"], "o-", label="prediction")
    ax.plot(x, spectrum["ref"], "s--", label="reference")
    ax.set_xlabel("radial frequency (relative)")
    ax.set_ylabel("mean log10 power")
    ax.legend()
    return _save(fig, path)


def example_crops(examples: list[dict[str, Any]], path: Path, crop: int = 96) -> Path:
    """Per example: centre crops of prediction and reference and the absolute error map."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(examples), 3, figsize=(9, 3 * len(examples)), squeeze=False)
    for row, ex in zip(axes, examples, strict=True):
        h, w = ex["ref"].shape
        top, left = max((h - crop) // 2, 0), max((w - crop) // 2, 0)
        box = (slice(top, top + crop), slice(left, left + crop))
        err = np.abs(ex["pred"] - ex["ref"])[box]
        gray = {"cmap": "gray", "vmin": 0, "vmax": 1}
        panels = ((row[0], ex["pred"][box], f"{ex['id']}: prediction", gray),
                  (row[1], ex["ref"][box], "reference", gray),
                  (row[2], err, f"|error| (max {err.max():.3f})", {"cmap": "magma"}))
        for ax, image, title, kw in panels:
            ax.imshow(image, **kw)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    return _save(fig, path)


def ranked_bars(rows: list[dict[str, Any]], path: Path, metric: str = "psnr") -> Path:
    """Screening: reconstruction metric per autoencoder, best first."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(rows)), 3.5))
    ax.bar([r["vae"] for r in rows], [r[metric] for r in rows], yerr=[r.get(f"{metric}_std", 0) for r in rows])
    ax.set_ylabel(f"reconstruction {metric}")
    ax.tick_params(axis="x", rotation=30)
    return _save(fig, path)


def regression_plot(x: np.ndarray, y: np.ndarray, labels: list[str], fit: dict[str, float], path: Path) -> Path:
    """Reconstruction PSNR (x) against SR PSNR (y) with the OLS line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(x, y)
    for xi, yi, label in zip(x, y, labels, strict=True):
        ax.annotate(label, (xi, yi), fontsize=7)
    grid = np.linspace(x.min(), x.max(), 50)
    ax.plot(grid, fit["slope"] * grid + fit["intercept"], "r-")
    ax.set_xlabel("autoencoder reconstruction PSNR (dB)")
    ax.set_ylabel("SR PSNR (dB)")
    ax.set_title(f"r = {fit['r']:.3f}, R² = {fit['r2']:.3f}, p = {fit['p']:.2g}")
    return _save(fig, path)


def detail_window(image: np.ndarray, side: int) -> tuple[int, int]:
    """(top, left) of the ``side`` x ``side`` window with the most fine detail (mean gradient magnitude)."""
    from scipy import ndimage

    energy = np.hypot(ndimage.sobel(image, 0), ndimage.sobel(image, 1))
    mean = ndimage.uniform_filter(energy, size=side, mode="constant")
    half = side // 2
    valid = mean[half : image.shape[0] - side + half + 1, half : image.shape[1] - side + half + 1]
    top, left = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return int(top), int(left)


def sr_panels(rows: list[dict[str, Any]], path: Path, zoom: int = 4) -> Path:
    """SR examples, one row each: LR, bicubic, zoo, HR, |bicubic - HR|, |zoo - HR| (and the ``uncertainty`` map
    where the rows have one, on the error maps' colour scale: it estimates |zoo - HR|).

    A row holds the images (``lr``, ``bicubic``, ``zoo``, ``hr`` in [0, 1]), ``id``, ``modality`` and
    ``psnr_*``/``ssim_*`` of bicubic and zoo (shown on their panels). Each panel carries a zoomed inset
    of the window (1/``zoom`` of the side) with the most fine detail in the HR image, outlined on it;
    both error maps of a row share one colour scale, shown by a colour bar beside the row.
    """
    return _save(sr_panels_figure(rows, zoom), path)


ERROR_UNITS = "|SR − HR| (fraction of the\nimage's intensity range)"
"""Label of the error maps' colour bar: the images are in [0, 1], their full range."""


def sr_panels_figure(rows: list[dict[str, Any]], zoom: int = 4):
    """The matplotlib figure of :func:`sr_panels` (not saved)."""
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    cols = ("lr", "bicubic", "zoo", "hr", "err_bicubic", "err_zoo")
    cols += ("err_uncertainty",) if all(row.get("uncertainty") is not None for row in rows) else ()
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.2 * len(cols), 2.35 * len(rows)), squeeze=False)
    for ax_row, row in zip(axes, rows, strict=True):
        hr = row["hr"]
        side = max(hr.shape[0] // zoom, 4)
        top, left = detail_window(hr, side)
        errors = {k: np.abs(row[k] - hr) for k in ("bicubic", "zoo")}
        vmax = max(float(np.percentile(e, 99.5)) for e in errors.values()) or 1.0
        if "err_uncertainty" in cols:
            errors["uncertainty"] = row["uncertainty"]
        for ax, key in zip(ax_row, cols, strict=True):
            image = errors[key[4:]] if key.startswith("err_") else row[key]
            style = {"cmap": "magma", "vmin": 0, "vmax": vmax} if key.startswith("err_") else \
                {"cmap": "gray", "vmin": 0, "vmax": 1}
            f = image.shape[0] / hr.shape[0]  # the LR panel's scale
            box = (int(top * f), int(left * f), max(int(side * f), 1))
            shown = ax.imshow(image, interpolation="nearest", **style)
            ax.add_patch(Rectangle((box[1] - 0.5, box[0] - 0.5), box[2], box[2], fill=False, color="yellow", lw=0.8))
            inset = ax.inset_axes((0.58, 0.0, 0.42, 0.42))
            inset.imshow(image[box[0] : box[0] + box[2], box[1] : box[1] + box[2]], interpolation="nearest", **style)
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_color("yellow")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(_panel_title(key, row, image), fontsize=7)
        ax_row[0].set_ylabel(f"{row['modality']}\n{row['id']}", fontsize=6)
        _error_colorbar(fig, ax_row[-1], shown)
    fig.tight_layout()
    return fig


def _error_colorbar(fig, ax, mappable) -> None:
    """A colour bar right of ``ax`` for the row's shared error scale, labelled with its units."""
    cax = ax.inset_axes((1.04, 0.0, 0.07, 1.0))
    bar = fig.colorbar(mappable, cax=cax)
    bar.set_label(ERROR_UNITS, fontsize=5)
    bar.ax.tick_params(labelsize=5)


def _panel_title(key: str, row: dict[str, Any], image: np.ndarray) -> str:
    if key == "lr":
        return f"LR {image.shape[1]}x{image.shape[0]}"
    if key == "hr":
        return f"HR {image.shape[1]}x{image.shape[0]}"
    if key == "err_uncertainty":
        return f"uncertainty map, mean {image.mean():.4f}"
    if key.startswith("err_"):
        return f"|{key[4:]} - HR|, mean {image.mean():.4f}"
    return f"{key} {row[f'psnr_{key}']:.2f} dB, SSIM {row[f'ssim_{key}']:.3f}"
