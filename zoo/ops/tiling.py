"""Tiled SR: tile grids, blend windows, and tiled encode / denoise / decode as plain functions.

Large images are split into overlapping tiles on the *latent* grid; every stage runs tile by tile and
the overlaps are blended with weights that sum to one (a partition of unity), so memory is bounded
by the tile size and time grows linearly with the pixels. :class:`~zoo.pipeline.SRPipeline` uses
these functions when called with ``tile=N`` (N: the HR tile side in pixels) or when ``tile=None``
finds the image larger than what the pipeline was trained on.

The noise of the sampler is drawn once for the whole latent (the tiles only split the network calls),
so away from the blend bands a result does not depend on the tile size. Tile positions and sizes are
the same for every row and column (all tiles have the full tile size unless the image is smaller), so
fixed-shape engines (TensorRT) need one shape per stage.

Memory: nothing of the size of the HR image is held in float64; the HR output is accumulated tile by
tile into one float32 buffer, and pixel-space inputs of a tile (the bicubic image of
``bicubic-latent`` pipelines) are computed from the LR region that covers it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from zoo.errors import ZooError

__all__ = [
    "DEFAULT_TILE",
    "EXACT_BAND",
    "MAX_AUTO_TILE",
    "TilePlan",
    "TilingError",
    "bicubic_region",
    "blend_weights",
    "run_tiled",
    "spans",
    "tiled_denoise",
]

# HR tile side used by ``tile=None`` when the pipeline does not say what size it was trained on.
DEFAULT_TILE = 256
# Largest HR tile side ``tile=None`` uses (a pipeline trained on larger images still tiles above it):
# the memory budget of one network call (medvae-4-3 + the paper UNet at 512² HR stay well under 1 GB).
MAX_AUTO_TILE = 512
# Blend band (latent pixels) of an exact plan, between the context margins of two neighbouring tiles.
EXACT_BAND = 2


class TilingError(ZooError, ValueError):
    """A tile option that cannot work (too small, not a number)."""


@dataclass(frozen=True)
class TilePlan:
    """Tile side and overlap in *latent* pixels (an HR tile of ``tile * factor`` pixels)."""

    tile: int
    overlap: int
    margin: int = 0

    @classmethod
    def from_hr(cls, tile_hr: int, factor: int, overlap_hr: int | None = None) -> TilePlan:
        """A plan for an HR tile side ``tile_hr`` (rounded down to the autoencoder's factor); the overlap
        defaults to 1/8 of the tile (at least 2 latent pixels)."""
        if not isinstance(tile_hr, int) or tile_hr < 2 * factor:
            raise TilingError(f"tile must be at least {2 * factor} HR pixels (2 latent pixels), got {tile_hr!r}")
        tile = tile_hr // factor
        overlap = max(2, tile // 8) if overlap_hr is None else max(0, overlap_hr // factor)
        return cls(tile, min(overlap, tile // 2))

    @classmethod
    def exact(cls, tile_hr: int, factor: int, radius: int) -> TilePlan:
        """A plan whose tiles give exactly the whole-image result of a network that reads ``radius`` latent
        pixels around each output pixel: a context margin of ``radius`` on every inner tile edge (weight
        ~0 there), then a 2-pixel blend band."""
        tile = tile_hr // factor if isinstance(tile_hr, int) else 0
        overlap = 2 * radius + EXACT_BAND
        if tile <= overlap:
            least = (overlap + 1) * factor
            raise TilingError(
                f"tile must be at least {least} HR pixels for this denoiser (it reads {radius} latent pixels "
                f"around each pixel), got {tile_hr!r}")
        return cls(tile, overlap, radius)


def spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Start/stop of tiles of side ``tile`` covering ``0..length`` with at least ``overlap`` in common.

    Every span has the full tile size (one span of ``length`` if the tile does not fit); starts are
    spread evenly so the overlaps are as equal as possible.
    """
    if length <= tile:
        return [(0, length)]
    step = max(1, tile - overlap)
    n = math.ceil((length - tile) / step) + 1
    starts = [round(i * (length - tile) / (n - 1)) for i in range(n)]
    return [(s, s + tile) for s in starts]


def blend_weights(windows: list[tuple[int, int]], length: int, margin: int = 0) -> list[torch.Tensor]:
    """1D weights of each span (float32) that sum to one at every position of ``0..length``.

    Where a span overlaps a neighbour, its first ``margin`` positions on that side are context only
    (weight ~0: a network's output near a tile edge sees zero padding instead of the image), then the
    weight ramps linearly across the rest of the overlap (the blend band).
    """
    tiny = 1e-6
    raw = []
    for i, (a, b) in enumerate(windows):
        w = torch.ones(b - a, dtype=torch.float64)
        if i > 0 and windows[i - 1][1] > a:  # overlap with the previous span: context, then ramp up
            n = windows[i - 1][1] - a
            m = min(margin, n // 2)
            ramp = torch.full((n,), tiny, dtype=torch.float64)
            ramp[m : n - m] = (torch.arange(n - 2 * m, dtype=torch.float64) + 0.5) / (n - 2 * m)
            ramp[n - m :] = 1.0
            w[:n] = torch.minimum(w[:n], ramp)
        if i + 1 < len(windows) and windows[i + 1][0] < b:  # overlap with the next span: ramp down, context
            n = b - windows[i + 1][0]
            m = min(margin, n // 2)
            ramp = torch.full((n,), tiny, dtype=torch.float64)
            ramp[:m] = 1.0
            ramp[m : n - m] = (n - 2 * m - torch.arange(n - 2 * m, dtype=torch.float64) - 0.5) / (n - 2 * m)
            w[-n:] = torch.minimum(w[-n:], ramp)
        raw.append(w)
    total = torch.zeros(length, dtype=torch.float64)
    for (a, b), w in zip(windows, raw, strict=True):
        total[a:b] += w
    return [(w / total[a:b]).float() for (a, b), w in zip(windows, raw, strict=True)]


Region = tuple[int, int, int, int]  # y0, y1, x0, x1 on the tile grid


def run_tiled(
    fn: Callable[[Region], torch.Tensor], size: tuple[int, int], plan: TilePlan, out: torch.Tensor, scale: int = 1,
) -> torch.Tensor:
    """Blend ``fn(region)`` over a tile grid of ``size`` into ``out`` (zeros, B x C x H·scale x W·scale).

    ``region`` is on the grid (latent pixels); ``fn`` returns that region at ``scale`` times the grid
    resolution (``scale=f`` for decoding to pixels). Tiles with the same rows share one weight row, so
    the 2D weights (outer products) sum to one everywhere and no weight buffer is needed.
    """
    h, w = size
    rows, cols = spans(h, plan.tile, plan.overlap), spans(w, plan.tile, plan.overlap)
    wy = blend_weights([(a * scale, b * scale) for a, b in rows], h * scale, plan.margin * scale)
    wx = blend_weights([(a * scale, b * scale) for a, b in cols], w * scale, plan.margin * scale)
    for (y0, y1), ry in zip(rows, wy, strict=True):
        for (x0, x1), rx in zip(cols, wx, strict=True):
            piece = fn((y0, y1, x0, x1)).to(out.dtype)
            weight = (ry.view(-1, 1) * rx.view(1, -1)).to(out.device, out.dtype)
            out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale] += piece * weight
    return out


def tiled_denoise(
    denoise: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, plan: TilePlan,
) -> torch.Tensor:
    """The denoiser's raw output over a whole latent, run on overlapping latent tiles and blended."""
    out = torch.zeros(x_t.shape, dtype=torch.float32, device=x_t.device)

    def one(r: Region) -> torch.Tensor:
        y0, y1, x0, x1 = r
        return denoise(x_t[..., y0:y1, x0:x1], t, cond[..., y0:y1, x0:x1])

    return run_tiled(one, tuple(x_t.shape[-2:]), plan, out)


def bicubic_region(lr01: torch.Tensor, scale: int, region: Region) -> torch.Tensor:
    """Pixels ``region`` (HR coordinates y0, y1, x0, x1) of the bicubic upsampling of ``lr01`` by ``scale``.

    Computed from the LR rows/columns that cover it plus a 3-pixel margin: bicubic reads 4 neighbours,
    so the result equals the same pixels of the whole image upsampled at once (away from the margin,
    clamping at image borders matches too because the margin stops there).
    """
    from zoo.ops.resample import upsample_lr

    y0, y1, x0, x1 = region
    h, w = lr01.shape[-2:]
    ly0, lx0 = max(0, y0 // scale - 3), max(0, x0 // scale - 3)
    ly1, lx1 = min(h, -(-y1 // scale) + 3), min(w, -(-x1 // scale) + 3)
    up = upsample_lr(lr01[..., ly0:ly1, lx0:lx1], ((ly1 - ly0) * scale, (lx1 - lx0) * scale))
    oy, ox = y0 - ly0 * scale, x0 - lx0 * scale
    return up[..., oy : oy + (y1 - y0), ox : ox + (x1 - x0)]


def range_reference(x: torch.Tensor) -> torch.Tensor:
    """Per-image (min, max) as a B x 1 x 1 x 2 tensor: a ``range_from`` that gives a tile the whole image's range."""
    flat = x.flatten(1)
    return torch.stack([flat.min(1).values, flat.max(1).values], dim=1).view(-1, 1, 1, 2)
