"""`zoo prepare`: paper-exact LR, slice rules, subject-level splits, pairing by id, bad input."""

from __future__ import annotations

import csv
import random

import nibabel as nib
import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from PIL import Image

from zoo.cli import main
from zoo.data import DataError, load_unit, read_manifest, write_png
from zoo.data.degradations import DEGRADATIONS, get_degradation, pil_resize
from zoo.data.normalize import center_square, minmax01
from zoo.data.prepare import PrepareConfig, prepare
from zoo.data.slices import brats_slices, select_slices


def test_paper_lr_is_pil_lanczos_of_the_crop():
    rng = np.random.default_rng(0)
    slice8 = rng.integers(0, 256, (240, 240), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(slice8).resize((64, 64), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(pil_resize(slice8, 64, "lanczos"), expected)
    hr = pil_resize(slice8, 256, "lanczos")
    assert not np.array_equal(pil_resize(hr, 64, "lanczos"), expected)  # LR comes from the crop, not the HR


def test_paper_uint8_path_is_bit_exact(tmp_path):
    """The BraTS script: per-slice min-max to [0,255], astype(uint8), HR = LANCZOS 256, LR = LANCZOS(crop) 64."""
    rng = np.random.default_rng(7)
    volume = rng.normal(300, 80, (240, 240, 30)).clip(0).astype(np.int16)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), tmp_path / "BraTS-GLI-00001-000-t2w.nii.gz")
    result = CliRunner().invoke(main, ["prepare", str(tmp_path / "BraTS-GLI-00001-000-t2w.nii.gz"), "--out",
                                       str(tmp_path / "out"), "--slices", "brats", "--n-slices", "3", "--paper-uint8"])
    assert result.exit_code == 0, result.output
    records = read_manifest(tmp_path / "out")
    assert [r.slice for r in records] == brats_slices(np.moveaxis(volume, 2, 0), n=3, seed=42)
    for rec in records:
        s = volume[:, :, rec.slice].astype(np.float64)
        u8 = ((s - s.min()) / (s.max() - s.min()) * 255).astype(np.uint8)
        hr = np.asarray(Image.open(tmp_path / "out" / rec.hr))
        lr = np.asarray(Image.open(tmp_path / "out" / rec.lr))
        assert hr.dtype == np.uint8 and lr.shape == (64, 64)
        np.testing.assert_array_equal(hr, np.asarray(Image.fromarray(u8).resize((256, 256), Image.LANCZOS)))
        np.testing.assert_array_equal(lr, np.asarray(Image.fromarray(u8).resize((64, 64), Image.LANCZOS)))


def test_prepare_matches_pil_on_the_normalised_crop(tmp_path):
    rng = np.random.default_rng(1)
    image = (rng.random((200, 240)) * 3000).astype(np.uint16)
    write_png(tmp_path / "src" / "a.png", image)
    summary = prepare([tmp_path / "src"], tmp_path / "out", PrepareConfig(size=128, scale=4))
    unit, lo, hi = minmax01(image)
    crop = center_square(unit)
    as_f = Image.fromarray(crop, mode="F")
    want_hr = np.clip(np.asarray(as_f.resize((128, 128), Image.Resampling.LANCZOS)), 0, 1)
    want_lr = np.clip(np.asarray(as_f.resize((32, 32), Image.Resampling.LANCZOS)), 0, 1)
    (rec,) = read_manifest(tmp_path / "out")
    np.testing.assert_allclose(load_unit(tmp_path / "out" / rec.hr), want_hr, atol=0.5 / 65535 + 1e-7)
    np.testing.assert_allclose(load_unit(tmp_path / "out" / rec.lr), want_lr, atol=0.5 / 65535 + 1e-7)
    assert (rec.orig_min, rec.orig_max) == (lo, hi)
    assert summary["lr_size"] == 32 and summary["degradation"]["name"] == "lanczos"


def test_degradations_shapes_and_determinism():
    crop = np.random.default_rng(2).random((96, 96)).astype(np.float32)
    for name in DEGRADATIONS:
        a = get_degradation(name)(crop, 24, np.random.default_rng(5))
        b = get_degradation(name)(crop, 24, np.random.default_rng(5))
        assert a.shape == (24, 24) and np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)
    const = np.full((96, 96), 0.25, np.float32)
    np.testing.assert_allclose(get_degradation("kspace")(const, 24, None), 0.25, atol=1e-6)
    with pytest.raises(ValueError, match="unknown degradation"):
        get_degradation("nope")


def test_brats_slice_rule():
    vol = np.zeros((40, 16, 16), np.float32)
    vol[:, 4:12, 4:12] = 1.0  # every slice has a bright square ...
    vol[12, :, :] = 1.0  # ... except a flat one (max == mean, std 0)
    got = brats_slices(vol, n=5, seed=42)
    valid = [z for z in range(10, 30) if z != 12]
    assert got == sorted(random.Random(42).sample(valid, 5))
    assert all(10 <= z < 30 for z in got)
    assert select_slices(vol, "middle") == [20] and len(select_slices(vol, "all")) == 40
    assert brats_slices(vol, n=100) == valid


def _volumes(tmp_path, n_subjects=6):
    rng = np.random.default_rng(3)
    for s in range(n_subjects):
        vol = rng.random((48, 48, 12)).astype(np.float32) * (s + 1)
        folder = tmp_path / "scans" / f"sub-{s:02d}"
        folder.mkdir(parents=True)
        nib.save(nib.Nifti1Image(vol, np.eye(4)), folder / "t1.nii.gz")
        nib.save(nib.Nifti1Image(vol[::-1].copy(), np.eye(4)), folder / "t2.nii.gz")


def test_subject_level_split_has_no_leakage(tmp_path):
    _volumes(tmp_path)
    config = PrepareConfig(size=48, scale=4, slices="all", subject_from="parent", split_seed=7)
    prepare([tmp_path / "scans"], tmp_path / "out", config)
    records = read_manifest(tmp_path / "out")
    assert len(records) == 6 * 2 * 12
    split_of: dict[str, set[str]] = {}
    for rec in records:
        split_of.setdefault(rec.subject, set()).add(rec.split)
        assert rec.hr == f"hr/{rec.id}.png" and rec.lr == f"lr/{rec.id}.png"
        assert (tmp_path / "out" / rec.hr).exists() and (tmp_path / "out" / rec.lr).exists()
    assert all(len(s) == 1 for s in split_of.values())  # no subject in two splits
    assert {next(iter(s)) for s in split_of.values()} == {"train", "val", "test"}
    assert len({r.id for r in records}) == len(records)
    again = PrepareConfig(size=48, scale=4, slices="all", subject_from="parent", split_seed=7)
    prepare([tmp_path / "scans"], tmp_path / "out2", again)
    assert [(r.id, r.split) for r in read_manifest(tmp_path / "out2")] == [(r.id, r.split) for r in records]


def test_dicom_subjects_come_from_patient_id(tmp_path, originals):
    ds = pydicom.dcmread(originals / "CT_small.dcm")
    for i, pid in enumerate(["P1", "P1", "P2", "P3"]):
        ds.PatientID = pid
        ds.save_as(tmp_path / f"img{i}.dcm")
    prepare([tmp_path], tmp_path / "out", PrepareConfig(size=64, scale=4))
    records = read_manifest(tmp_path / "out")
    assert {r.subject for r in records} == {"P1", "P2", "P3"}
    p1 = {r.split for r in records if r.subject == "P1"}
    assert len(p1) == 1


def test_ids_never_depend_on_sort_order(tmp_path):
    """Names that sort lexicographically differently from numerically keep their own pairs."""
    rng = np.random.default_rng(4)
    for n in (1, 2, 10, 100):
        write_png(tmp_path / "src" / f"hr_{n}.png", (rng.random((64, 64)) * 255).astype(np.uint8))
    prepare([tmp_path / "src"], tmp_path / "out", PrepareConfig(size=64, scale=4))
    for rec in read_manifest(tmp_path / "out"):
        source = np.asarray(Image.open(rec.source)).astype(np.float64)
        unit, _, _ = minmax01(source)
        np.testing.assert_allclose(load_unit(tmp_path / "out" / rec.hr), unit, atol=1e-4)
        assert rec.id == rec.source.rsplit("/", 1)[1][:-4]


def test_constant_image_gives_zeros_not_nan(tmp_path):
    write_png(tmp_path / "src" / "flat.png", np.full((64, 64), 300, np.uint16))
    prepare([tmp_path / "src"], tmp_path / "out", PrepareConfig(size=64, scale=4))
    (rec,) = read_manifest(tmp_path / "out")
    assert np.all(load_unit(tmp_path / "out" / rec.hr) == 0) and (rec.orig_min, rec.orig_max) == (300, 300)


def _run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_cli_bad_input_one_line_error_and_no_output(tmp_path):
    write_png(tmp_path / "src" / "good.png", (np.arange(4096).reshape(64, 64) % 255).astype(np.uint8))
    write_png(tmp_path / "src" / "tiny.png", np.arange(16, dtype=np.uint8).reshape(4, 4))
    result = _run(["prepare", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--size", "64"])
    assert result.exit_code == 2
    tiny = tmp_path / "src" / "tiny.png"
    assert result.output.strip().startswith(f"zoo: error: {tiny}: image is 4x4")
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    (tmp_path / "src" / "nan.npy").write_bytes(b"\x93NUMPY garbage")
    result = _run(["prepare", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--size", "64", "--skip-bad"])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "manifest.csv") as fh:
        assert [row["id"] for row in csv.DictReader(fh)] == ["good"]
    result = _run(["prepare", str(tmp_path / "src" / "good.png"), "--out", str(tmp_path / "out"), "--size", "64"])
    assert result.exit_code == 2 and "exists and is not empty" in result.output


def test_cli_rejects_uncroppable_size(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((64, 64), np.uint8))
    result = _run(["prepare", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), "--size", "250"])
    assert result.exit_code == 2 and "multiple of --scale 4" in result.output


def test_bundled_prepared_split_is_subject_level():
    from zoo.data.samples import prepared_samples, sample_paths

    records = read_manifest(prepared_samples())
    by_subject: dict[str, set[str]] = {}
    for rec in records:
        by_subject.setdefault(rec.subject, set()).add(rec.split)
    assert all(len(v) == 1 for v in by_subject.values())
    assert {r.split for r in records} == {"train", "val", "test"}
    assert 50 <= len(sample_paths("slices")) <= 150
    with pytest.raises(DataError):
        read_manifest(prepared_samples() / "hr")
