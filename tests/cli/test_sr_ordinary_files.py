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
    """A file of pydicom's bundled test data (never downloaded)."""
    import pydicom.data

    path = Path(pydicom.data.__file__).parent / "test_files" / name
    if not path.exists():
        pytest.skip(f"pydicom's bundled test data lacks {name}")
    return path


# 1. colour images through the default pipeline (self-ensemble 8) --------------------------------------
def _colour_pngs(folder: Path) -> list[tuple[Path, int, int]]:
    """(file, height, width): RGB and RGBA PNGs of a grey scan, several small sizes."""
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    files = []
    for mode in ("RGB", "RGBA"):
        for h, w in [(8, 8), (31, 17)]:
            grey = (rng.random((h, w)) * 255).astype(np.uint8)  # a grey scan saved as colour
            channels = [grey] * 3 + ([np.full_like(grey, 255)] if mode == "RGBA" else [])
            files.append((folder / f"{mode}_{h}x{w}.png", h, w))
            Image.fromarray(np.stack(channels, axis=-1), mode).save(files[-1][0])
    return files


def test_sr_colour_pngs_of_small_sizes_with_the_default_pipeline(tmp_path):
    from PIL import Image

    files = _colour_pngs(tmp_path / "in")
    res = _sr([str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert len(_manifest(tmp_path / "o")) == len(files)
    for src, h, w in files:
        result = Image.open(tmp_path / "o" / src.name)
        assert result.mode == "RGB" and result.size == (4 * w, 4 * h)  # the alpha channel is dropped on reading


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1)])
def test_an_image_of_one_row_or_column_is_one_line_and_the_others_go_on(tmp_path, shape):
    """A single row or column has nothing 2D to super-resolve: one line naming the file; a 2 x 2 image runs."""
    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros(shape, np.uint16)).save(tmp_path / "in" / "line.png")
    Image.fromarray(np.full((2, 2), 900, np.uint16)).save(tmp_path / "in" / "small.png")
    res = _sr([str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    lines = [line for line in res.output.splitlines() if "line.png" in line]
    assert len(lines) == 1 and f"image is {shape[0]}x{shape[1]} pixels: too small" in lines[0], res.output
    assert "Traceback" not in res.output
    assert [row["input"].endswith("small.png") for row in _manifest(tmp_path / "o")] == [True]
    assert Image.open(tmp_path / "o" / "small.png").size == (8, 8)
    assert not (tmp_path / "o" / "line.png").exists()


@pytest.mark.slow  # two 100 x 100 frames, 8 transforms each: ~4 s on a busy CPU
def test_sr_pydicom_rgb_two_frame_file_with_the_default_pipeline(tmp_path):
    import pydicom

    src = _pydicom_file("SC_rgb_rle_2frame.dcm")
    res = _sr([str(src), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    (row,) = _manifest(tmp_path / "o")
    before, after = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "o" / row["output"])
    assert after.pixel_array.shape == (2, 4 * before.Rows, 4 * before.Columns, 3)


# 2. folders of DICOM files without an extension -------------------------------------------------------
def test_sr_folder_of_extensionless_dicom_files_keeps_series_and_skips_the_rest(tiny_pipeline, tmp_path):
    import shutil

    import pydicom

    scans = tmp_path / "pacs"
    (scans / "SE0001").mkdir(parents=True)
    series = sorted(p for p in _pydicom_file("dicomdirtests/77654033/CT2").iterdir())  # named 17106, 17136, ...
    for i, src in enumerate(series, 1):
        shutil.copyfile(src, scans / "SE0001" / f"IM{i:04d}")
    shutil.copyfile(_pydicom_file("CT_small.dcm"), scans / "I0000001")
    shutil.copyfile(_pydicom_file("dicomdirtests/DICOMDIR"), scans / "DICOMDIR")
    shutil.copyfile(_pydicom_file("dicomdirtests/DICOMDIR"), scans / "SE0001" / "INDEX")  # a DICOMDIR by content
    (scans / "LOCKFILE").write_bytes(b"not an image")
    res = _sr([str(scans), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 0, res.output
    ids = [f"IM{i:04d}" for i in range(1, len(series) + 1)]
    assert sorted(r["id"] for r in _manifest(tmp_path / "o")) == sorted([*ids, "I0000001"])
    outs = {p.stem: pydicom.dcmread(p) for p in (tmp_path / "o").glob("*.dcm")}
    assert len({outs[i].SeriesInstanceUID for i in ids}) == 1  # one input series -> one derived series
    assert outs["I0000001"].SeriesInstanceUID != outs[ids[0]].SeriesInstanceUID
    warnings = [line for line in res.output.splitlines() if "skipped" in line]
    assert len(warnings) == 1 and "LOCKFILE" in warnings[0] and "1 file(s)" in warnings[0]
    assert "DICOMDIR" not in res.output and "INDEX" not in res.output


def test_sr_folder_without_any_image_is_one_line_exit_2(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "IM0001").write_bytes(b"\0" * 200)
    res = _sr([str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "no supported image files" in res.output and not (tmp_path / "o").exists()


def test_dicom_named_by_its_uid_keeps_its_whole_name_as_id():
    from zoo.data.formats import stem

    assert stem("1.2.840.113619.2.55.3.7") == "1.2.840.113619.2.55.3.7"
    assert stem("scan.nii.gz") == "scan" and stem("IM0001") == "IM0001" and stem("a.IMA") == "a"


# 3. enhanced multi-frame DICOM: the functional groups follow the new grid ----------------------------
_ORIENTATION = [0.8, 0.6, 0.0, 0.0, 0.0, -1.0]  # oblique rows, columns towards the feet
_SPACING = (0.5, 0.8)  # (row, column) mm: unequal, so a swapped pair shows


def _enhanced_mr(path: Path, where: str) -> Path:
    """A 2-frame Enhanced MR file made from pydicom's MR_small: orientation and spacing in the shared
    functional groups (``where="shared"``) or in each frame's, each frame's position in its own group."""
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = pydicom.dcmread(_pydicom_file("MR_small.dcm"))
    pixels = ds.pixel_array
    ds.PixelData = np.stack([pixels, pixels[::-1]]).astype(pixels.dtype).tobytes()
    ds.NumberOfFrames = 2
    for tag in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness"):
        del ds[tag]
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian

    def grid_item() -> Dataset:
        item, orientation, measures = Dataset(), Dataset(), Dataset()
        orientation.ImageOrientationPatient = _ORIENTATION
        measures.PixelSpacing, measures.SliceThickness = list(_SPACING), 5.0
        item.PlaneOrientationSequence, item.PixelMeasuresSequence = Sequence([orientation]), Sequence([measures])
        return item

    frames = []
    for i in range(2):
        item = grid_item() if where == "per-frame" else Dataset()
        position = Dataset()
        position.ImagePositionPatient = [-100.25 + i, 40.5, 12.0 + 5 * i]
        item.PlanePositionSequence = Sequence([position])
        frames.append(item)
    ds.SharedFunctionalGroupsSequence = Sequence([grid_item() if where == "shared" else Dataset()])
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("where", ["shared", "per-frame"])
def test_sr_enhanced_multiframe_dicom_moves_each_frame_to_the_new_grid(where, tiny_pipeline, tmp_path):
    import pydicom

    (tmp_path / "in").mkdir()
    src = _enhanced_mr(tmp_path / "in" / "enhanced.dcm", where)
    res = _sr([str(src), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 0, res.output
    before, after = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "o" / "enhanced.dcm")
    scale = after.Rows // before.Rows
    assert scale == 4 and after.Columns == 4 * before.Columns and int(after.NumberOfFrames) == 2
    row_dir, col_dir = np.array(_ORIENTATION[:3]), np.array(_ORIENTATION[3:])
    new_spacing = [s / scale for s in _SPACING]
    for old_frame, new_frame in zip(before.PerFrameFunctionalGroupsSequence, after.PerFrameFunctionalGroupsSequence,
                                    strict=True):
        old_position = np.array(old_frame.PlanePositionSequence[0].ImagePositionPatient, float)
        new_position = np.array(new_frame.PlanePositionSequence[0].ImagePositionPatient, float)
        # LR pixel (0, 0)'s region starts half an LR pixel before its centre; the SR centre is half an SR pixel in
        region_start = old_position - 0.5 * _SPACING[1] * row_dir - 0.5 * _SPACING[0] * col_dir
        expected = region_start + 0.5 * new_spacing[1] * row_dir + 0.5 * new_spacing[0] * col_dir
        np.testing.assert_allclose(new_position, expected, atol=1e-6)
        group = new_frame if where == "per-frame" else after.SharedFunctionalGroupsSequence[0]
        spacing = [float(v) for v in group.PixelMeasuresSequence[0].PixelSpacing]
        np.testing.assert_allclose(spacing, new_spacing, rtol=1e-6)


# 4. NIfTI scaling -------------------------------------------------------------------------------------
def _nifti_with_slope(path: Path, slope: float) -> tuple[Path, np.ndarray]:
    """A small int16 NIfTI-1 whose header's scl_slope is ``slope`` (written into the file's bytes, as nibabel
    would not save it), scl_inter 0; also returns the stored voxel values."""
    import gzip
    import struct

    import nibabel as nib

    raw = (np.arange(12 * 16 * 2).reshape(12, 16, 2) % 50).astype(np.int16)
    plain = path.with_name(path.name.removesuffix(".gz"))
    nib.save(nib.Nifti1Image(raw, np.diag([0.8, 0.9, 3.0, 1.0])), plain)
    data = bytearray(plain.read_bytes())
    data[112:120] = struct.pack("<ff", slope, 0.0)  # scl_slope, scl_inter (NIfTI-1 header offsets)
    plain.unlink()
    path.write_bytes(gzip.compress(bytes(data)) if path.name.endswith(".gz") else bytes(data))
    return path, raw


@pytest.mark.parametrize("slope", [np.inf, -np.inf])
@pytest.mark.parametrize("name", ["vol.nii", "vol.nii.gz"])
def test_sr_nifti_with_an_infinite_scl_slope_is_one_line_exit_2(slope, name, tiny_pipeline, tmp_path):
    src, _ = _nifti_with_slope(tmp_path / name, slope)
    res = _sr([str(src), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 2
    (error,) = [line for line in res.output.splitlines() if line.startswith(f"zoo: error: {src}")]
    assert "scl_slope" in error  # then the run's summary: nothing written
    assert not list((tmp_path / "o").glob("vol*"))


@pytest.mark.parametrize("slope", [0.0, np.nan])
def test_nifti_scl_slope_zero_or_nan_means_no_scaling(slope, tmp_path):
    from zoo.data.readers import read_image

    src, raw = _nifti_with_slope(tmp_path / "vol.nii", slope)
    image = read_image(src)
    np.testing.assert_array_equal(np.sort(image.array.ravel()), np.sort(raw.ravel()))


# 5. file names that are not ASCII or not valid UTF-8 ----------------------------------------------------
_NAMES = ["knie_ü.png".encode(), b"scan\xff.png"]  # the second is no UTF-8: os.fsdecode gives a lone surrogate


def _named_pngs(folder: Path) -> Path:
    import os

    from zoo.data.writers import write_png

    folder.mkdir()
    image = (np.random.default_rng(0).random((12, 16)) * 255).astype(np.uint8)
    for name in _NAMES:
        try:
            write_png(os.fsdecode(os.fsencode(folder) + b"/" + name), image)
        except (OSError, UnicodeError):
            pytest.skip("this file system refuses such names")
    return folder


def _check_names_round_trip(out: Path) -> None:
    """manifest.csv is UTF-8 where a name is, holds each input name's exact bytes, and lists every output."""
    import os

    with (out / "manifest.csv").open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(os.fsencode(Path(r["input"]).name) for r in rows) == sorted(_NAMES)
    assert all((out / r["output"]).is_file() for r in rows)
    assert "knie_ü.png" in (out / "manifest.csv").read_bytes().decode("utf-8", "replace")


def test_sr_non_ascii_and_non_utf8_names_keep_their_manifest_rows(tiny_pipeline, tmp_path):
    folder = _named_pngs(tmp_path / "in")
    args = [str(folder), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline)]
    res = _sr(args)
    assert res.exit_code == 0, res.output
    _check_names_round_trip(tmp_path / "o")
    again = _sr([*args, "--resume"])  # the manifest reads back: both outputs are complete
    assert again.exit_code == 0 and "skipped 2 complete" in again.output, again.output


@pytest.mark.slow  # a Python process under the C locale: ~10 s of start-up (torch) on a busy CPU
@pytest.mark.parametrize("utf8_mode", ["1", "0"])  # Python's own default under LC_ALL=C, and an ASCII file system
def test_sr_non_ascii_and_non_utf8_names_round_trip_under_the_c_locale(utf8_mode, tiny_pipeline, tmp_path):
    import os
    import subprocess
    import sys

    folder = _named_pngs(tmp_path / "in")
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": utf8_mode,
           "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "export"), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "zoo", "sr", str(folder), "--out", str(tmp_path / "o"),
               "--pipeline", str(tiny_pipeline)]
    done = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    _check_names_round_trip(tmp_path / "o")


def test_prepare_manifest_keeps_a_non_utf8_source_name(tmp_path):
    import os

    from zoo.data.manifest import read_manifest
    from zoo.data.prepare import PrepareConfig, prepare

    folder = _named_pngs(tmp_path / "in")
    prepare([folder], tmp_path / "prep", PrepareConfig(size=16, scale=4))
    sources = sorted(os.fsencode(Path(r.source).name) for r in read_manifest(tmp_path / "prep"))
    assert sources == sorted(_NAMES)


def test_prepare_takes_extensionless_dicom_from_a_folder(tmp_path):
    import shutil

    from zoo.data.manifest import read_manifest
    from zoo.data.prepare import PrepareConfig, prepare

    (tmp_path / "in").mkdir()
    shutil.copyfile(_pydicom_file("CT_small.dcm"), tmp_path / "in" / "IM0001")
    shutil.copyfile(_pydicom_file("dicomdirtests/DICOMDIR"), tmp_path / "in" / "DICOMDIR")
    prepare([tmp_path / "in"], tmp_path / "prep", PrepareConfig(size=32, scale=4))
    assert [Path(r.source).name for r in read_manifest(tmp_path / "prep")] == ["IM0001"]


@pytest.mark.parametrize("size", [8, 9, 20, 25])
def test_a_png_shorter_than_its_header_is_a_bad_file(size, tmp_path):
    from zoo.data.errors import DataError
    from zoo.data.readers import read_image

    src = tmp_path / "cut.png"
    src.write_bytes((b"\x89PNG\r\n\x1a\n" + bytes(range(64)))[:size])
    with pytest.raises(DataError, match="cut.png"):
        read_image(src)
