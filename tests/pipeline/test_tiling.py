"""Tiled SR (zoo.ops.tiling): grids and blend weights, tiled stages, tiled vs untiled, and the seam measure."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.ops.tiling import TilePlan, TilingError, bicubic_region, blend_weights, run_tiled, spans, tiled_denoise

from .conftest import local_pipeline

SAMPLES = Path(zoo.__file__).resolve().parent / "assets" / "samples" / "slices"


@pytest.mark.parametrize(("length", "tile", "overlap"), [(10, 16, 2), (64, 16, 2), (100, 32, 4), (33, 8, 3)])
def test_spans_cover_everything_with_full_tiles_and_the_overlap(length, tile, overlap):
    got = spans(length, tile, overlap)
    assert got[0][0] == 0 and got[-1][1] == length
    assert all(b - a == min(tile, length) for a, b in got)
    for (_, b), (a2, _) in zip(got, got[1:], strict=False):
        assert b - a2 >= overlap  # consecutive tiles share at least the overlap, never leave a gap


@pytest.mark.parametrize("margin", [0, 2])
def test_blend_weights_are_a_partition_of_unity(margin):
    windows = spans(100, 32, 12)
    total = torch.zeros(100)
    for (a, b), w in zip(windows, blend_weights(windows, 100, margin), strict=True):
        assert bool((w >= 0).all()) and w.shape == (b - a,)
        total[a:b] += w
    torch.testing.assert_close(total, torch.ones(100))


def test_run_tiled_of_a_pointwise_function_is_exact():
    x = torch.randn(2, 3, 37, 50)
    out = run_tiled(lambda r: x[..., r[0] : r[1], r[2] : r[3]] * 2 + 1, (37, 50), TilePlan(16, 4), torch.zeros_like(x))
    torch.testing.assert_close(out, x * 2 + 1)
    # at another resolution (decode: latent grid -> pixels), nearest upsampling stays exact
    big = torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")
    out = run_tiled(lambda r: big[..., r[0] * 4 : r[1] * 4, r[2] * 4 : r[3] * 4], (37, 50), TilePlan(16, 4),
                    torch.zeros_like(big), scale=4)
    torch.testing.assert_close(out, big)


def test_tiled_denoise_of_a_local_operator_matches_outside_the_context_margin():
    conv = torch.nn.Conv2d(6, 3, 3, padding=1)
    x, cond = torch.randn(1, 3, 40, 40), torch.randn(1, 3, 40, 40)

    def den(x_t, t, c):
        return conv(torch.cat([x_t, c], 1))

    with torch.no_grad():
        whole = den(x, None, cond)
        tiled = tiled_denoise(den, x, None, cond, TilePlan(16, 6, margin=1))
        hard = tiled_denoise(den, x, None, cond, TilePlan(16, 0))
    torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=1e-4)  # a 3x3 conv reads 1 pixel past a tile edge
    assert float((hard - whole).abs().max()) > 1e-2  # without overlap the tile edges differ: the test can fail


def test_bicubic_region_equals_the_crop_of_the_whole_upsampling():
    from zoo.ops.resample import upsample_lr

    lr = torch.rand(1, 1, 23, 31)
    whole = upsample_lr(lr, (92, 124))
    for region in [(0, 32, 0, 32), (40, 92, 60, 124), (13, 57, 9, 101)]:
        y0, y1, x0, x1 = region
        torch.testing.assert_close(bicubic_region(lr, 4, region), whole[..., y0:y1, x0:x1])


@pytest.fixture(scope="module")
def local_pipe():
    """A local denoiser (resconv, random weights, noisy-latent gate open) on the lossless first stage, 2 DDIM steps."""
    return local_pipeline()


def test_exact_plans_give_context_to_every_inner_edge(local_pipe):
    r = local_pipe.denoiser.receptive_radius
    assert local_pipe.tile_plan((600, 680)) == TilePlan(128, 2 * r + 2, r)  # auto: the largest tile
    assert local_pipe.tile_plan((512, 512)) is None  # fits in one tile
    assert local_pipe.tile_plan((600, 680), 128) == TilePlan(32, 2 * r + 2, r)
    with pytest.raises(TilingError, match=f"at least {(2 * r + 3) * 4} HR pixels for this denoiser"):
        local_pipe.tile_plan((600, 680), 4 * (2 * r + 2))


@pytest.mark.parametrize("self_ensemble", [1, 8])
def test_exact_tiles_of_a_local_denoiser_equal_the_whole_image(local_pipe, self_ensemble):
    lr = torch.rand(1, 1, 150, 170, generator=torch.Generator().manual_seed(1))  # HR 600 x 680
    run = {"seed": 0, "progress": False, "self_ensemble": self_ensemble}
    with torch.inference_mode():
        whole = local_pipe.super_resolve(lr, tile="off", **run)
        for tile in ("auto", 128, 200):
            torch.testing.assert_close(local_pipe.super_resolve(lr, tile=tile, **run), whole, atol=2e-4, rtol=0)
        # the control: the same tiles without context margins differ (the comparison can fail)
        inexact = local_pipe.super_resolve(lr, tile=TilePlan(32, 4), **run)
    assert float((inexact - whole).abs().max()) > 1e-3


@pytest.fixture(scope="module")
def default_pipe():
    from zoo.assets import DEFAULT_PIPELINE_DIR

    return zoo.load_pipeline(DEFAULT_PIPELINE_DIR)


def _lr_hr(n: int = 4, size: int = 64):
    from PIL import Image

    from zoo.data.degradations import pil_resize

    files = [sorted(glob.glob(str(SAMPLES / d / "*.png")))[0]
             for d in ("mni152", "nema-cr-chest", "nema-mr2", "nema-cr-extremity")][:n]
    pairs = []
    for f in files:
        hr = np.asarray(Image.open(f)).astype(np.float64) / 65535
        lr = np.array(pil_resize(hr.astype(np.float32), size), np.float32).clip(0, 1)
        pairs.append((torch.from_numpy(lr)[None, None], hr))
    return pairs


def test_tile_plan_auto_off_and_explicit(default_pipe):
    r = default_pipe.denoiser.receptive_radius  # the embedded default's denoiser is local: exact tiles
    assert default_pipe.tile_plan((512, 512)) is None  # fits in one tile of the largest size: run whole
    assert default_pipe.tile_plan((1024, 512)) == TilePlan(128, 2 * r + 2, r)  # auto: tiles of 512 HR pixels
    assert default_pipe.tile_plan((1024, 1024), "off") is None and default_pipe.tile_plan((4096, 4096), 0) is None
    assert default_pipe.tile_plan((256, 256), 128) == TilePlan(32, 2 * r + 2, r)
    assert default_pipe.tile_plan((256, 256), "512") is None
    with pytest.raises(TilingError, match="tile"):
        default_pipe.tile_plan((256, 256), "big")
    with pytest.raises(TilingError, match="at least"):
        default_pipe.tile_plan((256, 256), 4)


def test_blended_plans_for_denoisers_that_read_the_whole_image(pipe43):
    """A denoiser without a receptive radius (the paper UNet: GroupNorm) gets blended tiles of its trained size."""
    assert getattr(pipe43.denoiser, "receptive_radius", None) is None
    side = pipe43.trained_size
    assert pipe43.tile_plan((side, side)) is None
    assert pipe43.tile_plan((2 * side, side)) == TilePlan.from_hr(side, pipe43.factor)


def test_a_tile_as_large_as_the_image_is_the_untiled_result(default_pipe):
    lr, _ = _lr_hr(1)[0]
    torch.testing.assert_close(default_pipe(lr, seed=3, tile=256), default_pipe(lr, seed=3, tile="off"))


def test_tiled_vs_untiled_psnr_against_hr(default_pipe):
    """The embedded default at 256² HR: whole vs tiles of 128 and 192 HR pixels, per image within 0.05 dB
    (issue 16; its local denoiser makes them equal up to float rounding: docs/large-images.md)."""
    from zoo.evaluate.metrics import psnr

    deltas = {128: [], 192: []}
    for lr, hr in _lr_hr():
        whole = psnr(default_pipe(lr, seed=0, tile="off")[0, 0].double().numpy(), hr)
        for tile in deltas:
            deltas[tile].append(psnr(default_pipe(lr, seed=0, tile=tile)[0, 0].double().numpy(), hr) - whole)
    print({tile: [round(v, 4) for v in d] for tile, d in deltas.items()})
    for tile, d in deltas.items():
        assert max(abs(v) for v in d) <= 0.05, (tile, d)


def seam_ratio(residual: np.ndarray, borders: list[int]) -> float:
    """Mean |horizontal gradient| of a residual on the given column borders over that on all other columns."""
    grad = np.abs(np.diff(residual, axis=1))  # grad[:, j] between columns j and j+1
    on = [b - 1 for b in borders if 0 < b < residual.shape[1]]
    off = np.setdiff1d(np.arange(grad.shape[1]), on)
    return float(grad[:, on].mean() / grad[:, off].mean())


def _borders(length: int, plan: TilePlan, f: int) -> list[int]:
    """Every tile edge and blend-band edge (in pixels) of a tile grid along one axis."""
    cuts = set()
    for a, b in spans(length // f, plan.tile, plan.overlap):
        cuts.update((a * f, b * f))
    return sorted(c for c in cuts if 0 < c < length)


def test_no_seams_on_tile_borders(default_pipe):
    """The residual (SR - HR) has no step on tile-border lines: its gradient there, relative to the other
    lines, is what the untiled run has on the same lines (anatomy, e.g. a midline, can sit on a border).

    A hard-edged tiling (no overlap) of the same image is the control that the measure detects seams."""
    plans = {"blended": TilePlan(16, 4), "hard": TilePlan(16, 0)}
    excess: dict[str, list[float]] = {k: [] for k in plans}
    for lr, hr in _lr_hr():
        with torch.inference_mode():
            whole = default_pipe.super_resolve(lr, tile="off", seed=0, progress=False)[0, 0].double().numpy() - hr
            for name, plan in plans.items():
                sr = default_pipe.super_resolve(lr, tile=plan, seed=0, progress=False)[0, 0].double().numpy()
                borders = _borders(256, plan, 4)
                for axis in (0, 1):
                    r, w = (sr - hr, whole) if axis else ((sr - hr).T, whole.T)
                    excess[name].append(seam_ratio(r, borders) / seam_ratio(w, borders))
    print({k: [round(v, 3) for v in x] for k, x in excess.items()})
    assert max(excess["blended"]) < 1.1, excess
    assert max(excess["hard"]) > 1.3, excess


def test_tiled_sr_of_arrays_with_a_shared_volume_range(default_pipe):
    vol = (np.random.default_rng(0).random((3, 40, 40)) * 1000).astype(np.int16)
    vol[0] = 7  # a constant slice keeps its value under the volume's mapping (not mapped to 0)
    lo, hi = default_pipe.volume_range(vol)
    out = default_pipe(list(vol), seed=0, tile=128, value_range=(lo, hi))
    assert [o.shape for o in out] == [(160, 160)] * 3 and all(o.dtype == np.int16 for o in out)
    assert abs(float(out[0].mean()) - 7) < 50
