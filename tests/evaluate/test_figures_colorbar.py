"""The SR example figure (zoo demo, zoo eval) shows the error maps' scale: one labelled colour bar per row."""

from __future__ import annotations

import numpy as np

from zoo.evaluate.figures import ERROR_UNITS, sr_panels, sr_panels_figure


def _row(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    hr = rng.random((32, 32))
    return {"id": f"img{seed}", "modality": "CT", "lr": hr[::4, ::4], "bicubic": np.clip(hr + 0.1, 0, 1),
            "zoo": np.clip(hr + 0.05, 0, 1), "hr": hr, "psnr_bicubic": 20.0, "psnr_zoo": 26.0,
            "ssim_bicubic": 0.7, "ssim_zoo": 0.8}


def test_each_row_has_a_colour_bar_labelled_with_units(tmp_path):
    fig = sr_panels_figure([_row(0), _row(1)])
    bars = [child for ax in fig.axes for child in ax.child_axes if child.get_ylabel() == ERROR_UNITS]
    assert len(bars) == 2
    assert "range" in ERROR_UNITS
    top = bars[0].get_ylim()[1]
    assert 0.05 <= top <= 0.11  # the row's shared error scale (99.5th percentile of |error|)
    path = sr_panels([_row(0)], tmp_path / "examples.png")
    assert path.stat().st_size > 0
