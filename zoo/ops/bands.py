"""Bands of LR rows: a whole SR call (self-ensemble, gate, back-projection, map) run band by band.

A large scan is cut into bands of whole LR rows; each band runs with ``halo`` rows of context on each
side (as far as every local step of the call reads: the denoiser's and autoencoder's receptive radius per
sampler step, the bicubic taps, the gate's window, each back-projection step's LANCZOS and bicubic taps,
the map's window), and only its own rows are kept. Every step being local, the kept rows equal the same
rows of the whole-image call, and no buffer of the call is larger than a band.

:func:`frame_rows` finds a band's rows in a dihedral transform of an array (the self-ensemble's flips and
rotations), so that a band can take its part of noise drawn once for the whole image.
"""

from __future__ import annotations

__all__ = ["Band", "band_spans", "frame_rows"]

Band = tuple[int, int, int, int]  # lo, top, bottom, hi: context rows lo..hi, kept rows top..bottom


def band_spans(height: int, rows: int, halo: int, step: int = 1) -> list[Band]:
    """Bands of ``rows`` kept rows (multiples of ``step``) covering ``0..height``, each with up to ``halo``
    rows of context on each side (``halo`` rounded up to a multiple of ``step``; cut at the image's edges).
    One band (the whole image) when it is not taller than one band with its context."""
    step = max(1, int(step))
    rows = max(step, rows - rows % step)
    halo = -(-halo // step) * step
    if height <= rows + 2 * halo:
        return [(0, 0, height, height)]
    out = []
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        out.append((max(top - halo, 0), top, bottom, min(bottom + halo, height)))
    return out


def frame_rows(k: int, shape: tuple[int, int], rows: tuple[int, int]) -> tuple[slice, slice]:
    """The (row, column) slices of ``dihedral(x, k)`` (:func:`zoo.ops.ensemble.dihedral`) that hold rows
    ``rows`` of ``x`` (all its columns), for ``x`` of height x width ``shape``: ``dihedral(x[..., a:b, :], k)``
    equals ``dihedral(x, k)[..., r, c]``."""
    a, b = rows
    height = shape[0]
    flipped = slice(height - b, height - a)
    if k >= 4:  # transposed: x's rows are the columns, reversed by the horizontal flip
        return slice(None), flipped if k % 4 in (1, 3) else slice(a, b)
    return (flipped if k % 4 in (2, 3) else slice(a, b)), slice(None)
