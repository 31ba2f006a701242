"""``zoo sr`` on the files ordinary users try first (issue 26): colour images, extensionless DICOM folders,
enhanced multi-frame DICOM geometry, NIfTI scaling, non-ASCII file names."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zoo.cli import main


def _sr(args: list[str]):
    return CliRunner().invoke(main, ["sr", *args], catch_exceptions=False)


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _pydicom_file(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom's test data lacks {name}")
    return Path(path)


# 1. colour images through the default pipeline (self-ensemble 8) -------------------------------------
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_sr_colour_pngs_of_small_sizes_with_the_default_pipeline(mode, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    sizes = [(8, 8), (31, 17), (40, 24)]
    srcs = []
    for h, w in sizes:
        grey = (rng.random((h, w)) * 255).astype(np.uint8)  # a grey scan saved as colour
        channels = [grey] * 3 + ([np.full_like(grey, 255)] if mode == "RGBA" else [])
        srcs.append(tmp_path / "in" / f"{mode}_{h}x{w}.png")
        srcs[-1].parent.mkdir(exist_ok=True)
        Image.fromarray(np.stack(channels, axis=-1), mode).save(srcs[-1])
    res = _sr([*map(str, srcs), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert len(_manifest(tmp_path / "o")) == len(sizes)
    for (h, w), src in zip(sizes, srcs, strict=True):
        out = Image.open(tmp_path / "o" / src.name)
        assert out.mode == "RGB" and out.size == (4 * w, 4 * h)  # the alpha channel is dropped on reading


def test_sr_pydicom_rgb_two_frame_file_with_the_default_pipeline(tmp_path):
    import pydicom

    src = _pydicom_file("SC_rgb_rle_2frame.dcm")
    res = _sr([str(src), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    (row,) = _manifest(tmp_path / "o")
    before, after = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "o" / row["output"])
    assert after.pixel_array.shape == (2, 4 * before.Rows, 4 * before.Columns, 3)
