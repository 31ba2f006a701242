"""Per-pixel uncertainty: the expected absolute error of each SR pixel, estimated from the LR alone.

The map is a nonnegative weighted sum of eight features, all in the SR's [0, 1] units (the "5 x 5" ones
averaged over the window of :data:`RADIUS`):

* ``spread``: 5 x 5, the standard deviation of the SRs that the pipeline combined: the self-ensemble's
  flips/rotations (:mod:`zoo.ops.ensemble`) and, with ``uncertainty_samples=N``, N seeds;
* ``gate``: 5 x 5, what the self-ensemble's agreement gate removed, ``|ungated - gated|``;
* ``departure``: 5 x 5, ``|SR - bicubic|``, how much the output adds to the interpolation of the LR;
* ``gradient``: 5 x 5, the gradient magnitude of the bicubic image (edges are where any SR errs most);
* ``detail``: ``|SR - bicubic|`` of the pixel itself, not averaged: it ranks the pixels where the SR is
  worse than bicubic best of any single feature (the SR can only be worse where it departs from bicubic);
* ``sr_gradient``: 5 x 5, the gradient magnitude of the SR itself: the edges the output draws, where a
  misplaced edge costs most (it ranks the largest errors better than the bicubic's gradient);
* ``disputed``: ``sqrt(detail x spread)``, per pixel: a departure from bicubic that the orientations
  disagree on (the geometric mean needs both);
* ``noise``: one number per image and channel, the LR's noise level (:func:`noise_level`) times the scale:
  the HR noise that no SR can recover from the LR (an image's error never falls below it). It raises the
  whole map of a noisy image and leaves the ranking of its pixels as it is.

The weights are the pipeline option ``uncertainty_weights`` (fitted by ``scripts/fit_uncertainty.py``
on the validation split); ``None`` uses :data:`DEFAULT_WEIGHTS`. Every feature but ``noise`` is local (a few
pixels), and ``noise`` is measured once on the whole LR, so a map computed in bands of rows, or from a tiled
SR equal to the whole-image SR, equals the whole-image map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.ops.resample import bicubic_upsample

__all__ = [
    "DEFAULT_WEIGHTS", "FEATURES", "UncertaintyError", "UncertaintyParts", "baseline_map", "check_estimable",
    "check_weights", "features", "noise_level", "uncertainty_map",
]

FEATURES = ("spread", "gate", "departure", "gradient", "detail", "sr_gradient", "disputed", "noise")
# uncalibrated (folders without fitted weights): the model's terms only
DEFAULT_WEIGHTS = {"spread": 1.0, "gate": 1.0, "departure": 0.0, "gradient": 0.0, "detail": 0.0, "sr_gradient": 0.0,
                   "disputed": 0.0, "noise": 0.0}
RADIUS = 2  # 5 x 5 windows
HALO = RADIUS + 1  # rows a band needs on each side: the window and the central differences


class UncertaintyError(ZooError, ValueError):
    """The pipeline cannot estimate an uncertainty map with these options, or its weights are wrong."""


@dataclass
class UncertaintyParts:
    """An SR (B x C x H x W in [0, 1]) and what its map is made of: its LR (B x C x h x w in [0, 1]), the spread
    (std over orientations and seeds), what the self-ensemble's gate removed (None: not measured, zeros) and
    the PIL-exact bicubic upsampling of the LR, clipped (None: computed band by band where needed)."""

    sr: torch.Tensor
    lr: torch.Tensor
    std: torch.Tensor
    gate: torch.Tensor | None = None
    bicubic: torch.Tensor | None = None

    def features(self) -> dict[str, torch.Tensor]:
        """The features of :data:`FEATURES` (whole image)."""
        bicubic = self.bicubic if self.bicubic is not None else bicubic_rows(self.lr, self.sr, 0, self.sr.shape[-2])
        noise = noise_level(self.lr, self.sr.shape[-2] // self.lr.shape[-2])
        return features(self.sr, bicubic, self.std, self.gate, noise)

    def map(
        self, weights: Mapping[str, float] | None, rows: int = 512, noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """:func:`uncertainty_map` of these parts; ``noise``: the whole image's :func:`noise_level` when these parts
        are one band of it (None: measured on this LR)."""
        return uncertainty_map(self.sr, self.bicubic, self.std, self.gate, weights, rows, lr=self.lr, noise=noise)


def check_weights(value: Any) -> dict[str, float] | None:
    """``value`` as a dict with a nonnegative weight for each of :data:`FEATURES` (missing ones 0), or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a dict of weights for {', '.join(FEATURES)}, got {type(value).__name__}")
    unknown = sorted(set(value) - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown feature {unknown[0]!r} (known: {', '.join(FEATURES)})")
    weights = {name: float(value.get(name, 0.0)) for name in FEATURES}
    if any(not (w >= 0.0 and w < float("inf")) for w in weights.values()):
        raise ValueError(f"weights must be finite and >= 0, got {value!r}")
    return weights


def check_estimable(self_ensemble: int, samples: int) -> None:
    """One line naming the option to change when there is nothing to measure the spread over."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise UncertaintyError(f"uncertainty_samples must be an integer >= 1, got {samples!r}")
    if self_ensemble == 1 and samples < 2:
        raise UncertaintyError(
            "uncertainty needs a spread to measure: set self_ensemble to 2, 4 or 8, or uncertainty_samples >= 2 "
            "(this call has self_ensemble=1 and one sample)")


def local_mean(x: torch.Tensor, radius: int = RADIUS) -> torch.Tensor:
    """Mean over the (2 radius + 1)² window around each pixel of B x C x H x W (edges replicated)."""
    flat = x.reshape(-1, 1, *x.shape[-2:])
    pooled = F.avg_pool2d(F.pad(flat, (radius,) * 4, mode="replicate"), 2 * radius + 1, stride=1)
    return pooled.reshape(x.shape)


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """|∇x| by central differences (edges replicated) of B x C x H x W."""
    flat = F.pad(x.reshape(-1, 1, *x.shape[-2:]), (1, 1, 1, 1), mode="replicate")
    gx = (flat[..., 1:-1, 2:] - flat[..., 1:-1, :-2]) * 0.5
    gy = (flat[..., 2:, 1:-1] - flat[..., :-2, 1:-1]) * 0.5
    return torch.sqrt(gx * gx + gy * gy).reshape(x.shape)


LAPLACIAN_PAIR = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))  # blind to planes; 6 sigma on white noise
MEDIAN_ABS_PER_SIGMA = 0.6745 * 6.0  # median |response| of that mask to white noise of std 1


def noise_level(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """B x C x 1 x 1: the noise standard deviation of each LR plane (B x C x h x w), times ``scale``.

    The noise is the median absolute response to a 3 x 3 second-difference mask (zero on constant and planar
    regions), divided by its value for white noise of std 1: robust to the edges that cover less than half
    of the image. Times ``scale``: the LR averages about scale x scale HR pixels, which divides white noise by
    about the scale. An LR under 3 pixels a side gives 0."""
    b, c, h, w = lr.shape
    if h < 3 or w < 3:
        return lr.new_zeros((b, c, 1, 1), dtype=torch.float32)
    mask = torch.tensor(LAPLACIAN_PAIR, dtype=torch.float32, device=lr.device).view(1, 1, 3, 3)
    response = F.conv2d(lr.reshape(b * c, 1, h, w).float(), mask).abs().reshape(b * c, -1)
    return (response.median(dim=1).values / MEDIAN_ABS_PER_SIGMA * scale).reshape(b, c, 1, 1)


def bicubic_rows(lr: torch.Tensor, sr: torch.Tensor, y0: int, y1: int) -> torch.Tensor:
    """Rows ``y0:y1`` of the clipped PIL-exact bicubic upsampling of ``lr`` to ``sr``'s size, from the LR rows
    that cover them plus 3 (its taps reach 2 LR rows): equal to the same rows of the whole upsampling."""
    scale = sr.shape[-2] // lr.shape[-2]
    a, b = max(0, y0 // scale - 3), min(lr.shape[-2], -(-y1 // scale) + 3)
    up = bicubic_upsample(lr[..., a:b, :].to(sr.device, torch.float32), scale).clamp_(0, 1)
    return up[..., y0 - a * scale : y1 - a * scale, :]


def features(
    sr: torch.Tensor, bicubic: torch.Tensor, spread: torch.Tensor, gate: torch.Tensor | None,
    noise: torch.Tensor | None = None, names: Iterable[str] = FEATURES,
) -> dict[str, torch.Tensor]:
    """The features of :data:`FEATURES` named in ``names`` (all B x C x H x W, [0, 1] units; ``gate`` / ``noise``
    None: zeros; ``noise``: B x C x 1 x 1, :func:`noise_level`)."""
    wanted = set(names)
    detail = (sr - bicubic).abs()
    spread_mean = local_mean(spread) if wanted & {"spread", "disputed"} else None
    make = {
        "spread": lambda: spread_mean,
        "gate": lambda: local_mean(gate) if gate is not None else torch.zeros_like(spread),
        "departure": lambda: local_mean(detail),
        "gradient": lambda: local_mean(gradient_magnitude(bicubic)),
        "detail": lambda: detail,
        "sr_gradient": lambda: local_mean(gradient_magnitude(sr)),
        "disputed": lambda: torch.sqrt(detail * spread_mean),
        "noise": lambda: noise.to(sr).expand_as(sr) if noise is not None else torch.zeros_like(sr),
    }
    return {name: make[name]() for name in FEATURES if name in wanted}


def baseline_map(sr: torch.Tensor, bicubic: torch.Tensor) -> torch.Tensor:
    """The map anyone gets without the model: 5x5 mean of |SR - bicubic| + half the 5x5 mean of |∇ bicubic|."""
    return local_mean((sr - bicubic).abs()) + 0.5 * local_mean(gradient_magnitude(bicubic))


def uncertainty_map(
    sr: torch.Tensor, bicubic: torch.Tensor | None, spread: torch.Tensor, gate: torch.Tensor | None,
    weights: Mapping[str, float] | None, rows: int = 512, lr: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Σ weight · feature (float32, B x C x H x W), computed in bands of ``rows`` rows (same result as whole).

    ``bicubic`` None: each band's bicubic rows come from ``lr`` (:func:`bicubic_rows`, no image-size buffer).
    ``noise`` None: :func:`noise_level` of ``lr`` where the weights use it."""
    weights = weights or DEFAULT_WEIGHTS
    if noise is None and weights.get("noise") and lr is not None:
        noise = noise_level(lr, sr.shape[-2] // lr.shape[-2])
    used = [name for name in FEATURES if weights.get(name, 0.0)]
    out = torch.empty(sr.shape, dtype=torch.float32, device=sr.device)
    h = sr.shape[-2]
    for top in range(0, h, rows):
        lo, hi = max(top - HALO, 0), min(top + rows + HALO, h)
        up = bicubic[..., lo:hi, :].float() if bicubic is not None else bicubic_rows(lr, sr, lo, hi)
        removed = gate[..., lo:hi, :].float() if gate is not None else None
        parts = features(sr[..., lo:hi, :].float(), up, spread[..., lo:hi, :].float(), removed, noise, used)
        total = sum(weights[name] * value for name, value in parts.items())
        total = total if isinstance(total, torch.Tensor) else torch.zeros_like(up)
        out[..., top : top + rows, :] = total[..., top - lo : top - lo + min(rows, h - top), :]
    return out
