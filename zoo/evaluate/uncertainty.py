"""How well an uncertainty map predicts the SR's error: the calibration fit and the report's figures.

For one image with SR error ``e = |SR - HR|`` and a map ``u`` (both in the image's [0, 1] units):

* ``ratio``: mean(u) / mean(e), 1 when calibrated on average;
* ``spearman``: the rank correlation of u and e over pixels;
* ``lift``: mean e over the 10 % of pixels with the highest u, divided by mean e (1: no better than chance);
* ``auroc``: how well u ranks the pixels where zoo is worse than bicubic by more than 1/255 above the
  others (0.5: chance; NaN when an image has none or only such pixels).

The model's map is compared with :func:`zoo.ops.uncertainty.baseline_map` (no model needed).
:func:`fit_weights` fits the map's weights: the shape (relative weights) of a small grid that best ranks and
calibrates the fit images, then one factor that centres the per-image ratios of unseen images on 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from zoo.ops.uncertainty import FEATURES, baseline_map

__all__ = [
    "ImageParts", "WORSE_BY", "calibration_factor", "collect", "fit_weights", "map_files", "map_of", "map_record",
    "score",
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
    "spread": (0.0, 0.5, 1.0), "gate": (0.0,), "departure": (0.0, 0.5, 1.0), "gradient": (0.0, 0.1, 0.3),
    "detail": (0.0, 0.25, 1.0), "noise": (0.0, 0.25, 0.5, 1.0),
}
RATIO_BAND = (0.67, 1.5)  # issue 23: mean(map) / mean(error) of an image within this band counts as calibrated


def calibration_factor(maps: Sequence[np.ndarray], images: Sequence[ImageParts]) -> float:
    """The one factor that makes the geometric mean over images of mean(map) / mean(error) equal to 1."""
    logs = [np.log(m.mean() / im.error.mean()) for m, im in zip(maps, images, strict=True)
            if m.mean() > 0 and im.error.mean() > 0]
    return float(np.exp(-np.mean(logs))) if logs else 1.0


def shape_merit(maps: Sequence[np.ndarray], images: Sequence[ImageParts],
                baseline: tuple[float, float] | None = None, unseen: Sequence[int] | None = None) -> float:
    """How good a map shape is: share of images with the ratio in :data:`RATIO_BAND` + mean AUROC for "worse
    than bicubic" pixels, - 1 for each goal of issue 23 it misses against the no-model baseline: mean lift >= 3
    and above the baseline's, mean AUROC above the baseline's (``baseline``: its mean lift and AUROC over
    ``images``, :func:`baseline_figures`). The ratios are those of the images at ``unseen`` (default: all),
    scaled by their :func:`calibration_factor`: calibration is judged where the model's error is a new scan's."""
    keep = range(len(images)) if unseen is None else unseen
    kept_maps, kept = [maps[i] for i in keep], [images[i] for i in keep]
    factor = calibration_factor(kept_maps, kept)
    ratios = np.array([factor * m.mean() / max(im.error.mean(), 1e-12) for m, im in zip(kept_maps, kept, strict=True)])
    ours = [score(m, im, spearman=False) for m, im in zip(maps, images, strict=True)]
    base_lift, base_auroc = baseline if baseline is not None else baseline_figures(images)
    lift, auroc = float(np.mean([f["lift"] for f in ours])), _mean_finite([f["auroc"] for f in ours])
    penalty = float(lift < max(3.0, base_lift)) + float(auroc <= base_auroc)
    return float(np.mean((ratios >= RATIO_BAND[0]) & (ratios <= RATIO_BAND[1])) + auroc - penalty)


def baseline_figures(images: Sequence[ImageParts]) -> tuple[float, float]:
    """Mean lift and mean AUROC of the no-model baseline map over ``images``."""
    figures = [score(im.baseline(), im, spearman=False) for im in images]
    return float(np.mean([f["lift"] for f in figures])), _mean_finite([f["auroc"] for f in figures])


def _mean_finite(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else 0.0


def fit_weights(images: Sequence[ImageParts], scale_on: Sequence[ImageParts] | None = None) -> dict[str, float]:
    """The weights of the best shape of :data:`SHAPE_GRID` by :func:`shape_merit` over ``images`` (ties: the
    first), times the :func:`calibration_factor` that centres the per-image ratios of ``scale_on`` (default:
    ``images``) on 1. Scale on images the model never saw: its error on its training images is lower."""
    import itertools

    best, best_merit, baseline = None, float("-inf"), baseline_figures(images)
    unseen = None if scale_on is None else [i for i, im in enumerate(images) if any(im is u for u in scale_on)]
    for values in itertools.product(*SHAPE_GRID.values()):
        shape = dict(zip(SHAPE_GRID, values, strict=True))
        if not any(values):
            continue
        merit = shape_merit([map_of(im, shape) for im in images], images, baseline, unseen or None)
        if best is None or merit > best_merit:
            best, best_merit = shape, merit
    scale_on = images if scale_on is None else scale_on
    factor = calibration_factor([map_of(im, best) for im in scale_on], scale_on)
    return {name: best[name] * factor for name in FEATURES}


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
