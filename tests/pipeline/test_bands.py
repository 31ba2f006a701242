"""Large calls in bands of LR rows (zoo.ops.bands, SRPipeline._run_bands): equal to the whole-image call."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from zoo.ops.bands import band_spans, frame_rows
from zoo.ops.ensemble import dihedral
from zoo.ops.uncertainty import FEATURES, noise_level

from .conftest import local_pipeline


@pytest.mark.parametrize(("height", "rows", "halo", "step"), [(100, 16, 7, 4), (37, 10, 3, 1), (64, 64, 8, 4)])
def test_band_spans_keep_every_row_once_with_their_context(height, rows, halo, step):
    bands = band_spans(height, rows, halo, step)
    kept = [r for _, top, bottom, _ in bands for r in range(top, bottom)]
    assert kept == list(range(height))
    context = -(-halo // step) * step  # the halo, rounded up to the step
    for lo, top, bottom, hi in bands:
        assert (lo, hi) == (max(0, top - context), min(height, bottom + context))
        assert top % step == 0 and lo % step == 0


def test_frame_rows_find_a_band_in_every_flip_and_rotation():
    x = torch.arange(6 * 9).view(1, 1, 6, 9)
    for k in range(8):
        r, c = frame_rows(k, (6, 9), (2, 5))
        assert torch.equal(dihedral(x[..., 2:5, :], k), dihedral(x, k)[..., r, c]), k


@pytest.mark.parametrize(("latent", "chunk"), [((37, 29), 64), ((40, 40), 80), ((24, 50), 1 << 20)])
def test_band_noise_is_the_whole_images_noise_without_drawing_it_whole(monkeypatch, latent, chunk):
    """Streamed in chunks (not multiples of a row), each band's part of each frame's noise equals the same
    part of one whole draw, as SRPipeline.sample makes it."""
    from zoo.ops.ensemble import undo_dihedral
    from zoo.pipeline import band_noise

    monkeypatch.setattr(band_noise, "CHUNK", chunk)
    assert band_noise.chunks_are_exact()
    h, w = latent
    noise = band_noise.BandNoise(3, latent, torch.device("cpu"))
    for rows in [(0, 10), (5, 17), (h - 7, h)]:
        noise.at(rows)
        for k in range(8):
            whole = torch.randn((3, h, w) if k < 4 else (3, w, h), generator=torch.Generator().manual_seed(7))
            expected = dihedral(undo_dihedral(whole, k)[:, rows[0] : rows[1], :], k)
            assert torch.equal(noise.batch([7], [k])[0], expected), (rows, k)


@pytest.fixture(scope="module")
def local_pipe():
    """A local denoiser (exact tiles, noisy-latent gate open, 2 DDIM steps) with back-projection."""
    return local_pipeline(data_consistency=2)


def _banded(pipe, rows: int, **run):
    """``pipe.super_resolve`` with bands of ``rows`` LR rows (of a 48-column LR), checked to use several."""
    pipe.band_pixels = rows * 48
    try:
        return pipe.super_resolve(**run)
    finally:
        pipe.band_pixels = zoo.pipeline.sr_pipeline.BAND_PIXELS


def test_bands_of_a_call_equal_the_whole_image(local_pipe, monkeypatch):
    """Every flip/rotation (transposed ones too), the gate, 2 sampler steps and 2 back-projection steps: a band
    takes its part of the whole image's noise and as much context as the steps read."""
    lr = torch.rand(2, 1, 112, 48, generator=torch.Generator().manual_seed(3))  # HR 448 x 192, two seeds
    run = {"lr01": lr, "seed": 5, "progress": False, "self_ensemble": 8, "tile": 128}
    plan = local_pipe.tile_plan((448, 192), 128)
    local_pipe.band_pixels = 16 * 48
    assert len(local_pipe._bands(lr, plan, None, None)) > 2
    with torch.inference_mode():
        banded = _banded(local_pipe, 16, **run)
        local_pipe.band_pixels = 0
        tiled = local_pipe.super_resolve(**run)
        whole = local_pipe.super_resolve(**{**run, "tile": "off"})
    torch.testing.assert_close(banded, tiled, atol=1e-6, rtol=0)  # measured: 1.8e-7
    torch.testing.assert_close(banded, whole, atol=1e-6, rtol=0)  # measured: 2.1e-7 (float32 blending)
    # the control: bands with 2 rows of context differ (the comparison can fail)
    monkeypatch.setattr(zoo.pipeline.sr_pipeline, "band_spans", lambda h, rows, _, step: band_spans(h, rows, 2, step))
    with torch.inference_mode():
        short = _banded(local_pipe, 16, **run)
    assert float((short - whole).abs().max()) > 1e-4


@pytest.mark.parametrize("weights", [None, "every feature"])
def test_banded_map_equals_the_whole_map(local_pipe, weights):
    """Every feature, the per-image noise level included (measured once on the whole LR, not per band)."""
    g = torch.Generator().manual_seed(4)
    lr = torch.rand(1, 1, 96, 48, generator=g)
    lr[..., :48, :] = 0.3 + 0.01 * torch.randn(1, 1, 48, 48, generator=g)  # bands of unlike noise levels
    run = {"lr01": lr, "seed": 0, "progress": False, "self_ensemble": 4, "tile": 128, "uncertainty": True,
           "uncertainty_samples": 2}
    every = dict.fromkeys(FEATURES, 0.5)
    local_pipe.uncertainty_weights = None if weights is None else every
    try:
        with torch.inference_mode():
            sr, error = _banded(local_pipe, 16, **run)
            local_pipe.band_pixels = 0
            whole_sr, whole = local_pipe.super_resolve(**{**run, "tile": "off"})
            parts = local_pipe.uncertainty_parts(**{k: v for k, v in run.items() if k != "uncertainty"})
    finally:
        local_pipe.uncertainty_weights = None
    torch.testing.assert_close(sr, whole_sr, atol=1e-6, rtol=0)
    torch.testing.assert_close(error, whole, atol=2e-5, rtol=0)  # measured 8.8e-6: sqrt of a variance near 0
    assert float(whole.mean()) > 1e-3
    if weights is not None:  # the control: the noise level of the first band alone would differ
        first = noise_level(lr[..., :24, :], local_pipe.scale)
        assert abs(float(first - noise_level(lr, local_pipe.scale))) > 1e-3
        torch.testing.assert_close(whole, parts.map(every), atol=2e-5, rtol=0)


def test_arrays_in_bands_go_straight_into_the_output_dtype(local_pipe):
    g = np.random.default_rng(5)
    lr = [g.integers(0, 65535, (96, 48), dtype=np.uint16), g.integers(0, 65535, (96, 48), dtype=np.uint16)]
    run = {"seed": 1, "progress": False, "self_ensemble": 2, "tile": 128, "uncertainty": True}
    local_pipe.band_pixels = 16 * 48
    try:
        banded, maps = local_pipe(lr, **run)
    finally:
        local_pipe.band_pixels = 0
    whole, whole_maps = local_pipe(lr, **{**run, "tile": "off"})
    local_pipe.band_pixels = zoo.pipeline.sr_pipeline.BAND_PIXELS
    for a, b, m, n in zip(banded, whole, maps, whole_maps, strict=True):
        assert a.dtype == np.uint16 and a.shape == (384, 192) and m.dtype == np.float32 and m.shape == a.shape
        assert np.abs(a.astype(np.int64) - b).max() <= 1  # 2e-4 of the range at most: a grey level of rounding
        np.testing.assert_allclose(m, n, atol=2e-4 * 65535, rtol=0)


def _mosaic_png(path, side: int):
    """A ``side``² 16-bit PNG tiled from the bundled 256² sample slices."""
    import glob
    from pathlib import Path

    from PIL import Image

    root = Path(zoo.__file__).resolve().parent / "assets" / "samples" / "slices"
    slices = [np.asarray(Image.open(f)) for f in sorted(glob.glob(str(root / "*" / "*.png")))]
    slices = [s for s in slices if s.shape == (256, 256) and s.dtype == np.uint16]
    n = side // 256
    rows = [np.concatenate([slices[(r * n + c) % len(slices)] for c in range(n)], 1) for r in range(n)]
    path.parent.mkdir(parents=True)
    Image.fromarray(np.ascontiguousarray(np.concatenate(rows, 0))).save(path)
    return path


# Peak RSS budgets of `zoo sr` at 1024² LR (-> 4096² HR) with the embedded default, from the measured scaling
# (docs/large-images.md): about 0.5 GB of start-up and weights, a band's working set, and a few bytes per HR
# pixel (the uint16 output, the whole image's noise; with the map its float32 array and its uint16 copy).
# Measured: 0.96 GB and 0.99 GB (2-core AMD EPYC, loaded); budgets 15 % above.
RSS_BUDGET_1024 = {"": 1.1e9, "--uncertainty": 1.15e9}
PEAK_RSS_LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(proc.pid, 0)
sys.stderr.write(proc.stderr.read().decode())
print(usage.ru_maxrss * 1024)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs its arguments as a child and prints the child's peak RSS in bytes (exit status: the child's)."""


@pytest.mark.slow
@pytest.mark.parametrize("option", sorted(RSS_BUDGET_1024))
def test_zoo_sr_of_a_large_scan_stays_within_its_memory_budget(tmp_path, option):
    import subprocess
    import sys

    png = _mosaic_png(tmp_path / "in" / "scan.png", 1024)
    cmd = [sys.executable, "-m", "zoo", "sr", str(png), "--out", str(tmp_path / "out"), "-q", *option.split()]
    # A child's ru_maxrss keeps the RSS it had before exec, i.e. the parent's: started from this (large)
    # pytest process it would count pytest's memory. A small launcher process starts zoo sr instead.
    done = subprocess.run([sys.executable, "-c", PEAK_RSS_LAUNCHER, *cmd], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    peak = int(done.stdout.split()[-1])
    assert peak <= RSS_BUDGET_1024[option], f"peak RSS {peak / 1e9:.3f} GB"
    from zoo.data.readers import read_image

    out = read_image(tmp_path / "out" / "scan.png").array
    assert out.shape == (4096, 4096) and out.dtype == np.uint16


def test_tensor_outputs_are_mapped_back_in_bands_of_rows():
    """``tensor_from_unit`` in bands of rows (no float64 copy of a large output) equals the whole mapping."""
    from zoo.ops.intensity import EdgeFormat, tensor_from_unit

    y = torch.rand(2, 3, 10, 7, generator=torch.Generator().manual_seed(0))
    formats = [EdgeFormat(0.1, 0.7, torch.float32, "CHW"), EdgeFormat(0.0, 0.25, torch.float32, "CHW")]
    whole = torch.stack([f.from_unit(img.double()).to(f.dtype) for f, img in zip(formats, y, strict=True)])
    assert torch.equal(tensor_from_unit(y, formats, rows=3), whole)
    assert tensor_from_unit(y, formats).dtype == torch.float32
