"""How well an uncertainty map predicts the SR's error: the calibration fit and the report's figures.

For one image with SR error ``e = |SR - HR|`` and a map ``u`` (both in the image's [0, 1] units):

* ``ratio``: mean(u) / mean(e), 1 when calibrated on average;
* ``spearman``: the rank correlation of u and e over pixels;
* ``lift``: mean e over the 10 % of pixels with the highest u, divided by mean e (1: no better than chance);
* ``auroc``: how well u ranks the pixels where zoo is worse than bicubic by more than 1/255 above the
  others (0.5: chance; NaN when an image has none or only such pixels).

The model's map is compared with :func:`zoo.ops.uncertainty.baseline_map` (no model needed).
:func:`fit_weights` fits the map's weights in two steps: the shape (relative weights of a small grid) that best
ranks the fit images' errors against the baseline, then the noise weight and the one factor that put the most
unseen images' per-image ratios inside :data:`RATIO_BAND`, as far from its edges as they can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from zoo.ops.uncertainty import FEATURES, baseline_map

__all__ = [
    "ImageParts", "RATIO_BAND", "WORSE_BY", "band_shift", "calibration_factor", "collect", "fit_level", "fit_shape",
    "fit_weights", "map_files", "map_of", "map_record", "ranking_figures", "ranking_margin", "score",
]

WORSE_BY = 1.0 / 255  # "zoo worse than bicubic" pixels: |SR - HR| - |bicubic - HR| above this
TOP = 0.10  # the lift's share of pixels


@dataclass
class ImageParts:
    """One image: its id and modality, HR, SR and bicubic (H x W float64, [0, 1]) and the map's features."""

    id: str
    modality: str
    hr: np.ndarray
    sr: np.ndarray
    bicubic: np.ndarray | None
    features: dict[str, np.ndarray]

    @property
    def error(self) -> np.ndarray:
        return np.abs(self.sr - self.hr)

    @property
    def worse(self) -> np.ndarray | None:
        """Pixels where the SR is worse than bicubic by more than :data:`WORSE_BY` (None without bicubic)."""
        return None if self.bicubic is None else self.error - np.abs(self.bicubic - self.hr) > WORSE_BY

    def baseline(self) -> np.ndarray:
        """The no-model map of :func:`zoo.ops.uncertainty.baseline_map`."""
        t = [torch.from_numpy(a)[None, None] for a in (self.sr, self.bicubic)]
        return baseline_map(*t)[0, 0].numpy()


def collect(pipe: Any, lr: torch.Tensor, hr: np.ndarray, ident: str = "", modality: str = "", seed: int = 0,
            samples: int = 1) -> ImageParts:
    """SR, bicubic and features of one LR (1 x 1 x h x w in [0, 1]) whose HR is ``hr`` (H x W, [0, 1]), mapped
    as ``pipe(lr)`` maps a tensor (the autoencoder card's intensity policy)."""
    from zoo.ops.intensity import tensor_to_unit

    intensity = getattr(getattr(pipe.vae, "card", None), "intensity", "minmax")
    unit, (fmt,) = tensor_to_unit(lr, intensity)
    with torch.inference_mode():
        parts = pipe.uncertainty_parts(unit, seed=[seed], progress=False, uncertainty_samples=samples)
    span = fmt.hi - fmt.lo

    def plain(t: torch.Tensor, offset: float = 0.0) -> np.ndarray:
        return t[0, 0].double().cpu().numpy() * span + offset

    return ImageParts(ident, modality, np.asarray(hr, np.float64), plain(parts.sr, fmt.lo),
                      plain(parts.bicubic, fmt.lo), {name: plain(v) for name, v in parts.features().items()})


def map_of(image: ImageParts, weights: dict[str, float]) -> np.ndarray:
    """Σ weight · feature of one image."""
    return sum(weights.get(name, 0.0) * image.features[name] for name in FEATURES)


SHAPE_GRID = {  # the relative weights fit_weights tries (gate: 0, the embedded default does not measure it)
    "spread": (0.5, 1.0), "gate": (0.0,), "departure": (0.0, 0.5), "gradient": (0.0,),
    "detail": (0.0, 0.25, 0.5), "sr_gradient": (0.0, 0.25, 0.5), "disputed": (0.0, 1.0, 2.0),
}
NOISE_GRID = (0.0, *np.geomspace(0.02, 5.0, 25).tolist())  # noise weight / shape scale that the level step tries
RATIO_BAND = (0.67, 1.5)  # issue 23: mean(map) / mean(error) of an image within this band counts as calibrated


def _log_ratios(maps: Sequence[np.ndarray], images: Sequence[ImageParts]) -> np.ndarray:
    return np.array([np.log(m.mean() / im.error.mean()) for m, im in zip(maps, images, strict=True)
                     if m.mean() > 0 and im.error.mean() > 0])


def band_shift(logs: np.ndarray) -> tuple[int, float]:
    """How many of the log ratios ``logs`` one common shift can put inside log :data:`RATIO_BAND`, and that shift:
    the middle of the shifts that do (the widest margin to both edges; ties: the group with the most room)."""
    lo, hi = np.log(RATIO_BAND)
    ordered = np.sort(np.asarray(logs, np.float64))
    best: tuple[tuple[int, float], float] | None = None
    for i, first in enumerate(ordered):
        j = int(np.searchsorted(ordered, first + (hi - lo), side="right"))  # ordered[i:j] fit in the band
        room = (hi - lo) - (ordered[j - 1] - first)
        key = (j - i, room)
        if best is None or key > best[0]:
            best = (key, lo - first + room / 2)
    return (best[0][0], best[1]) if best is not None else (0, 0.0)


def calibration_factor(maps: Sequence[np.ndarray], images: Sequence[ImageParts]) -> float:
    """The one factor that puts the most images' mean(map) / mean(error) inside :data:`RATIO_BAND`, as far from
    its edges as it can (:func:`band_shift`): the goal's own measure, so a few far-off images move no other."""
    return float(np.exp(band_shift(_log_ratios(maps, images))[1]))  # no ratio: shift 0, factor 1


def ranking_margin(figures: tuple[float, float], baseline: tuple[float, float]) -> float:
    """How far a map's (mean lift, mean AUROC) beat the no-model baseline's: the smaller of the lift's relative
    gain and the AUROC's gain over the baseline's distance to 1 (negative: it loses on one)."""
    lift, auroc = figures
    base_lift, base_auroc = baseline
    return min(lift / base_lift - 1.0, (auroc - base_auroc) / max(1.0 - base_auroc, 1e-9))


def ranking_figures(maps: Sequence[np.ndarray], images: Sequence[ImageParts]) -> tuple[float, float]:
    """Mean lift and mean AUROC ("worse than bicubic" pixels) of ``maps`` over ``images``."""
    figures = [score(m, im, spearman=False) for m, im in zip(maps, images, strict=True)]
    return float(np.mean([f["lift"] for f in figures])), _mean_finite([f["auroc"] for f in figures])


def baseline_figures(images: Sequence[ImageParts]) -> tuple[float, float]:
    """Mean lift and mean AUROC of the no-model baseline map over ``images``."""
    return ranking_figures([im.baseline() for im in images], images)


def _mean_finite(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else 0.0


def fit_shape(images: Sequence[ImageParts]) -> dict[str, float]:
    """The relative weights of :data:`SHAPE_GRID` that rank ``images``' errors best: the largest
    :func:`ranking_margin` over the no-model baseline (ties: the first). Only the ranking counts here: a
    constant per image (``noise``) and the scale do not change it, and :func:`fit_weights` sets them."""
    import itertools

    best, best_margin, baseline = None, float("-inf"), baseline_figures(images)
    for values in itertools.product(*SHAPE_GRID.values()):
        shape = dict(zip(SHAPE_GRID, values, strict=True))
        if not any(values):
            continue
        margin = ranking_margin(ranking_figures([map_of(im, shape) for im in images], images), baseline)
        if best is None or margin > best_margin:
            best, best_margin = shape, margin
    return {name: best.get(name, 0.0) for name in FEATURES}


def fit_level(shape: dict[str, float], images: Sequence[ImageParts]) -> dict[str, float]:
    """``shape`` plus the ``noise`` weight of :data:`NOISE_GRID` with which one factor puts the most of
    ``images``' per-image ratios in :data:`RATIO_BAND` (ties: the smallest standard deviation of their logs, then
    the first), times that :func:`calibration_factor`. The noise level is one number per image: it moves the
    level, never the ranking."""
    base = [map_of(im, shape) for im in images]
    best, best_key = 0.0, None
    for t in NOISE_GRID:
        logs = _log_ratios([m + t * im.features["noise"] for m, im in zip(base, images, strict=True)], images)
        key = (band_shift(logs)[0], -round(float(np.std(logs)) if logs.size > 1 else 0.0, 12))
        if best_key is None or key > best_key:
            best, best_key = t, key
    weights = dict(shape, noise=best)
    factor = calibration_factor([map_of(im, weights) for im in images], images)
    return {name: weights.get(name, 0.0) * factor for name in FEATURES}


def fit_weights(images: Sequence[ImageParts], scale_on: Sequence[ImageParts] | None = None) -> dict[str, float]:
    """Weights in two steps: the shape that ranks ``images``' errors best (:func:`fit_shape`), then the noise
    weight and the scale that calibrate the per-image ratios of ``scale_on`` (default: ``images``;
    :func:`fit_level`). Scale on images the model never saw: its error on its training images is lower."""
    return fit_level(fit_shape(images), list(scale_on) if scale_on is not None else list(images))


def _auroc(score_: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score_`` for the ``positive`` pixels (ties count half)."""
    from scipy.stats import rankdata

    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score_)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def score(uncertainty: np.ndarray, image: ImageParts, spearman: bool = True) -> dict[str, float]:
    """The four figures of ``uncertainty`` against ``image``'s error (see the module docstring; ``spearman``
    False: NaN, faster)."""
    from scipy.stats import spearmanr

    u, e = uncertainty.ravel(), image.error.ravel()
    top = np.argsort(u)[-max(1, int(round(TOP * u.size))):]
    mean_e = float(e.mean())
    return {
        "ratio": float(u.mean() / mean_e) if mean_e > 0 else float("nan"),
        "spearman": float(spearmanr(u, e).statistic) if spearman and np.ptp(u) > 0 and np.ptp(e) > 0 else float("nan"),
        "lift": float(e[top].mean() / mean_e) if mean_e > 0 else float("nan"),
        "auroc": _auroc(u, image.worse.ravel()) if image.worse is not None else float("nan"),
        "worse_share": float(image.worse.mean()) if image.worse is not None else float("nan"),
    }


MAP_TAG = ".uncertainty."  # zoo sr --uncertainty: OUT/NAME.uncertainty.EXT beside OUT/NAME.EXT


def map_files(folder: str | Any) -> dict[str, Any]:
    """``id -> path`` of the maps in a ``zoo sr --uncertainty`` output folder (files ``ID.uncertainty.EXT``)."""
    from pathlib import Path

    found = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and MAP_TAG in path.name:
            found[path.name.split(MAP_TAG)[0]] = path
    return found


def map_record(pred: np.ndarray, ref: np.ndarray, uncertainty: np.ndarray, lr: np.ndarray | None) -> dict[str, float]:
    """``zoo eval --uncertainty``'s figures of one image (``unc_ratio``, ``unc_spearman``, ``unc_lift``,
    ``unc_auroc``; the AUROC needs the LR, whose PIL bicubic upsampling is the reference)."""
    from zoo.evaluate.heldout import upsample

    if uncertainty.shape != pred.shape:
        raise ValueError(f"uncertainty map of size {uncertainty.shape} differs from its prediction {pred.shape}")
    bicubic = upsample(lr, pred.shape, "bicubic") if lr is not None else None
    figures = score(uncertainty, ImageParts("", "", ref, pred, bicubic, {}))
    return {f"unc_{k}": v for k, v in figures.items() if k != "worse_share"}
