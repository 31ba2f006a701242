"""Self-ensemble: SR of flips and rotations of the LR, combined where they agree (do no harm).

A learned SR adds detail that the LR does not determine. Running it on each dihedral transform of the
LR and mapping every result back gives ``count`` estimates of the same image. Where the model has really
learned the structure (an edge, a texture), the estimates agree; where it guesses (a scan unlike its
training data, noise, a smooth low-count image), the guesses depend on orientation and disagree.

:func:`self_ensemble` keeps the first and shrinks the second, pixel by pixel, towards a reference
(bicubic): with ``m`` the estimates' mean departure from the reference and ``v`` its variance across
the transforms, the output is ``reference + m * m² / (m² + v)``, a Wiener-style gain that is close to 1
where the transforms agree and close to 0 where they disagree as much as they add.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["COUNTS", "dihedral", "self_ensemble", "undo_dihedral"]

COUNTS = (1, 2, 4, 8)  # 2: + horizontal flip; 4: + vertical flip, 180°; 8: + the four transposed ones
_EPS = 1e-12


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
    run: Callable[[torch.Tensor], torch.Tensor], lr: torch.Tensor, reference: torch.Tensor, count: int,
    rows: int = 512,
) -> torch.Tensor:
    """Gated mean of ``run`` over ``count`` dihedral transforms of ``lr`` (B x C x h x w).

    ``run`` maps an LR batch to its SR (B x C x H x W); ``reference`` is the SR of ``lr`` to fall back to
    where the transforms disagree (bicubic). ``count`` is one of :data:`COUNTS`; 1 returns ``run(lr)``.
    Memory: two float32 accumulators of the output's size besides ``run``'s own (the first becomes the
    output); the gate runs in bands of ``rows`` rows."""
    if count not in COUNTS:
        raise ValueError(f"self-ensemble count must be one of {COUNTS}, got {count!r}")
    if count == 1:
        return run(lr)
    total = torch.zeros_like(reference, dtype=torch.float32)
    squares = torch.zeros_like(total)
    for k in range(count):
        residual = undo_dihedral(run(dihedral(lr, k)), k).to(torch.float32).sub_(reference)
        total.add_(residual)
        squares.addcmul_(residual, residual)
        del residual
    for top in range(0, reference.shape[-2], rows):  # in place: ``total`` becomes the output
        band = slice(top, top + rows)
        mean = total[..., band, :].div_(count)
        power = mean * mean
        variance = squares[..., band, :].div_(count).sub_(power).clamp_(min=0.0)
        gain = power.div_(power + variance + _EPS)
        mean.mul_(gain).add_(reference[..., band, :]).clamp_(0.0, 1.0)
    del squares
    return total.to(reference.dtype)
