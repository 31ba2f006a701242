"""The initial noise of a banded SR call (:mod:`zoo.ops.bands`): the values a whole-image call draws (one
generator per image, :func:`zoo.samplers.noise.randn`), handed to each band and flip/rotation as its part.

No buffer of the whole latent is kept: each band re-draws the image's noise stream in chunks and keeps
only its rows (and, for the transposed transforms, its columns). torch's CPU normal sampler fills
16-value blocks from one uniform stream, so chunks whose sizes are multiples of 16 give the same values as
one draw; :func:`chunks_are_exact` checks that on a probe once, and the noise is drawn whole otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from zoo.ops.bands import frame_rows

__all__ = ["BandNoise", "chunks_are_exact"]

CHUNK = 1 << 20  # values drawn per chunk (a multiple of 16)


def _draw(seed: int, total: int, chunk: int):
    """The stream of ``torch.randn(total)`` from a generator seeded ``seed``, in chunks of ``chunk`` values (the
    last one takes the remainder, so that no chunk is smaller than 16 unless ``total`` is)."""
    generator = torch.Generator("cpu").manual_seed(seed)
    start = 0
    while start < total:
        size = total - start if total - start < chunk + 16 else chunk
        yield start, torch.randn(size, generator=generator, dtype=torch.float32)
        start += size


@functools.cache
def chunks_are_exact() -> bool:
    """Whether this torch draws the same normal values in chunks (:data:`CHUNK`-like sizes) as at once."""
    total, chunk = 16 * 1000 + 7, 16 * 64
    whole = torch.randn(total, generator=torch.Generator("cpu").manual_seed(12345), dtype=torch.float32)
    return torch.equal(whole, torch.cat([part for _, part in _draw(12345, total, chunk)]))


class BandNoise:
    """Noise of a whole latent of ``latent`` (height, width) and ``channels``, per seed and transform shape,
    read band by band (:meth:`at`, then :meth:`batch`): the same values a whole-image call draws."""

    def __init__(self, channels: int, latent: tuple[int, int], device: torch.device) -> None:
        self.channels, self.latent, self.device = channels, latent, device
        self.rows = (0, latent[0])
        self._parts: dict[tuple[int, bool], dict[tuple[int, ...], torch.Tensor]] = {}
        self._whole: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

    def at(self, rows: tuple[int, int]) -> BandNoise:
        """Read latent rows ``rows`` (of the untransformed image) from now on; returns ``self``."""
        self.rows = rows
        self._parts.clear()
        return self

    def batch(self, seeds: Sequence[int], ks: Sequence[int]) -> torch.Tensor:
        """The band's noise for a batch of the transforms ``ks`` of images with ``seeds`` (transform-major)."""
        return torch.stack([self._part(seed, k) for k in ks for seed in seeds]).to(self.device, torch.float32)

    def _part(self, seed: int, k: int) -> torch.Tensor:
        h, w = self.latent
        shape = (self.channels, h, w) if k < 4 else (self.channels, w, h)
        where = frame_rows(k, (h, w), self.rows)
        if not chunks_are_exact():
            key = (seed, shape)
            if key not in self._whole:
                generator = torch.Generator("cpu").manual_seed(seed)
                self._whole[key] = torch.randn(shape, generator=generator, dtype=torch.float32)
            return self._whole[key][:, where[0], where[1]]
        if (seed, k >= 4) not in self._parts:
            self._parts[(seed, k >= 4)] = self._stream(seed, shape, k >= 4)
        return self._parts[(seed, k >= 4)][_key(where)]

    def _stream(self, seed: int, shape: tuple[int, int, int], transposed: bool) -> dict[tuple[int, ...], torch.Tensor]:
        """One pass over the image's noise stream (``shape``) keeping the band's parts of the frames of that shape."""
        c, h, w = shape
        a, b = self.rows
        height = self.latent[0]  # the untransformed image's latent height: the band's rows count on it
        kept = [(slice(a, b), slice(height - b, height - a))]
        wheres = [(slice(None), s) for s in kept[0]] if transposed else [(s, slice(None)) for s in kept[0]]
        out = [(where, torch.empty((c, *_kept_shape(h, w, where)), dtype=torch.float32)) for where in wheres]
        plane = h * w
        for start, values in _draw(seed, c * plane, max(16, CHUNK - CHUNK % 16)):
            stop = start + values.numel()
            for ch in range(start // plane, (stop - 1) // plane + 1):
                lo, hi = max(start, ch * plane), min(stop, (ch + 1) * plane)
                r0, r1 = (lo - ch * plane) // w, -(-(hi - ch * plane) // w)  # rows of channel ch touched
                for where, dest in out:
                    _copy_rows(values, start, ch, plane, w, r0, r1, lo, hi, where, dest)
        return {_key(where): value for where, value in out}


def _key(where: tuple[slice, slice]) -> tuple[int | None, ...]:
    return (where[0].start, where[0].stop, where[1].start, where[1].stop)


def _kept_shape(h: int, w: int, where: tuple[slice, slice]) -> tuple[int, int]:
    rows, cols = where
    return (len(range(h)[rows]), len(range(w)[cols]))


def _copy_rows(values: torch.Tensor, start: int, ch: int, plane: int, w: int, r0: int, r1: int, lo: int, hi: int,
               where: tuple[slice, slice], dest: torch.Tensor) -> None:
    """Copy what chunk ``values`` (from flat index ``start``) holds of rows ``r0:r1`` of channel ``ch`` into
    ``dest`` (the ``where`` part of that channel)."""
    rows, cols = where
    h = plane // w
    rsel = range(h)[rows]
    csel = range(w)[cols]
    for r in range(max(r0, rsel.start), min(r1, rsel.stop)):
        first = ch * plane + r * w  # flat index of (ch, r, 0)
        c0, c1 = max(csel.start, lo - first), min(csel.stop, hi - first)
        if c0 < c1:
            at = first - start  # where row r starts in the chunk
            dest[ch, r - rsel.start, c0 - csel.start : c1 - csel.start] = values[at + c0 : at + c1]
