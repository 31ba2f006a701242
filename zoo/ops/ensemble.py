"""Self-ensemble: SR of flips and rotations of the LR, combined where they agree (do no harm).

A learned SR adds detail that the LR does not determine. Running it on each dihedral transform of the
LR and mapping every result back gives ``count`` estimates of the same image. Where the model has really
learned the structure (an edge, a texture), the estimates agree; where it guesses (a scan unlike its
training data, noise, a smooth low-count image), the guesses depend on orientation and disagree.

:func:`self_ensemble` keeps the first and shrinks the second, pixel by pixel, towards bicubic (the
paper's baseline): with ``m`` the estimates' mean departure from bicubic and ``v`` its variance across
the transforms, both averaged over a small window, the output is ``bicubic + m * m² / (m² + v)``, a
Wiener-style gain that is close to 1 where the transforms agree and close to 0 where they disagree as
much as they add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.ops.resample import bicubic_upsample

__all__ = ["COUNTS", "EnsembleError", "EnsembleSpread", "check_count", "dihedral", "self_ensemble", "undo_dihedral"]

COUNTS = (1, 2, 4, 8)  # 2: + horizontal flip; 4: + vertical flip, 180°; 8: + the four transposed ones
GATE_RADIUS = 2  # the gate's statistics are averaged over a 5 x 5 window: a steadier estimate than one pixel
BATCH_PIXELS = 8 * 64 * 64  # LR pixels per call: the 8 transforms of a 64² image run as one batch
_EPS = 1e-12


class EnsembleError(ZooError, ValueError):
    """A self-ensemble count that is not 1, 2, 4 or 8."""


@dataclass
class EnsembleSpread:
    """What :func:`self_ensemble` measured besides its output (filled when passed as ``spread=``), B x C x H x W
    float32: ``std``, the per-pixel standard deviation of the transforms' SRs; ``gate``, ``|ungated - gated|``,
    what the agreement gate removed (the mean departure from bicubic times ``1 - gain``; measured only when
    ``want_gate``, as it takes one more buffer of the output's size)."""

    std: torch.Tensor | None = None
    gate: torch.Tensor | None = None
    want_gate: bool = True


def check_count(count: object) -> int:
    """``count`` if it is one of :data:`COUNTS`, else :class:`EnsembleError`."""
    if isinstance(count, bool) or count not in COUNTS:
        raise EnsembleError(f"self_ensemble must be one of {', '.join(map(str, COUNTS))}, got {count!r}")
    return int(count)


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Transform ``k`` (0..7) of the dihedral group on the last two axes; 0 is the identity and 0..3 keep
    the shape (flips and 180°), 4..7 transpose first."""
    if k >= 4:
        x = x.transpose(-1, -2)
    if k % 4 in (1, 3):
        x = x.flip(-1)
    if k % 4 in (2, 3):
        x = x.flip(-2)
    return x


def undo_dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`dihedral` ``k``."""
    if k % 4 in (2, 3):
        x = x.flip(-2)
    if k % 4 in (1, 3):
        x = x.flip(-1)
    if k >= 4:
        x = x.transpose(-1, -2)
    return x


def self_ensemble(
    run: Callable[[torch.Tensor], torch.Tensor], lr: torch.Tensor, count: int, rows: int = 512,
    batch_pixels: int = BATCH_PIXELS, spread: EnsembleSpread | None = None, transforms: bool = False,
) -> torch.Tensor:
    """Gated mean of ``run`` over ``count`` dihedral transforms of ``lr`` (B x C x h x w in [0, 1]).

    ``run`` maps an LR batch to its SR (N x C x H x W, an integer factor larger); transforms of one shape
    go to it stacked along the batch axis, as many as keep the call under ``batch_pixels`` LR pixels (one
    at a time for large images). Where the transforms disagree the output falls back to PIL-exact bicubic
    (:func:`zoo.ops.resample.bicubic_upsample`); the gate's ``m²`` and ``v`` are averaged over a
    (2 :data:`GATE_RADIUS` + 1)² window. ``count`` is one of :data:`COUNTS`; 1 returns ``run(lr)``.
    Memory: the bicubic reference (which becomes the output), two float32 accumulators and one residual of
    the output's size besides ``run``'s own (never written to: it may be a view); the gate runs in bands of
    ``rows`` rows. ``spread``: an :class:`EnsembleSpread` to fill (the variance buffer becomes its ``std``; its
    ``gate`` takes one more)."""
    if check_count(count) == 1:
        return run(lr, [0]) if transforms else run(lr)
    out = mean = variance = None
    for ks in _chunks(lr, count, batch_pixels):
        batch = torch.cat([dihedral(lr, k) for k in ks])
        srs = (run(batch, ks) if transforms else run(batch)).to(torch.float32).split(lr.shape[0])
        del batch
        for k, sr in zip(ks, srs, strict=True):
            sr = undo_dihedral(sr, k)
            if out is None:  # PIL-exact bicubic: the reference, and where the output is written
                out = bicubic_upsample(lr.to(sr.device, torch.float32), sr.shape[-1] // lr.shape[-1]).clamp_(0, 1)
                mean, variance = torch.zeros_like(out), torch.zeros_like(out)
            residual = sr - out  # not in place: ``run`` may return a view (e.g. grey expanded to RGB)
            mean.add_(residual)
            variance.addcmul_(residual, residual)
        del srs, sr, residual
    mean.div_(count)
    variance.div_(count).addcmul_(mean, mean, value=-1.0).clamp_(min=0.0)
    removed = torch.empty_like(out) if spread is not None and spread.want_gate else None
    for top in range(0, out.shape[-2], rows):
        lo, hi = max(top - GATE_RADIUS, 0), min(top + rows + GATE_RADIUS, out.shape[-2])
        power, disagreement = _local_mean(mean[..., lo:hi, :].square()), _local_mean(variance[..., lo:hi, :])
        gain = power.div_(power + disagreement + _EPS)[..., top - lo : top - lo + rows, :]
        if removed is not None:
            removed[..., top : top + rows, :] = (mean[..., top : top + rows, :] * (1.0 - gain)).abs_()
        out[..., top : top + rows, :].addcmul_(mean[..., top : top + rows, :], gain).clamp_(0.0, 1.0)
    if spread is not None:
        spread.std, spread.gate = variance.sqrt_(), removed
    return out.to(lr.dtype)


def _local_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over the (2 GATE_RADIUS + 1)² window around each pixel (edges replicated)."""
    r = GATE_RADIUS
    flat = x.reshape(-1, 1, *x.shape[-2:])
    pooled = F.avg_pool2d(F.pad(flat, (r, r, r, r), mode="replicate"), 2 * r + 1, stride=1)
    return pooled.reshape(x.shape)


def _chunks(lr: torch.Tensor, count: int, batch_pixels: int) -> list[list[int]]:
    """The transforms ``0 .. count - 1`` grouped by shape, each group cut to calls of at most ``batch_pixels``."""
    per_call = max(1, batch_pixels // (lr.shape[0] * lr.shape[-2] * lr.shape[-1]))
    groups: dict[tuple[int, ...], list[int]] = {}
    for k in range(count):
        groups.setdefault(tuple(dihedral(lr, k).shape), []).append(k)
    return [ks[i : i + per_call] for ks in groups.values() for i in range(0, len(ks), per_call)]
