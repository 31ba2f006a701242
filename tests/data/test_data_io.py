"""Readers and writers on real files of every format: round trips, DICOM modality LUT, NIfTI affine."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image

from zoo.data import DataError, read_image, write_like, write_png
from zoo.data.writers import resampled_affine, write_npy, write_tiff


def test_png_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    cases = {
        "g8.png": rng.integers(0, 256, (33, 47), dtype=np.uint8),
        "g16.png": rng.integers(0, 65536, (33, 47), dtype=np.uint16),
        "rgb.png": rng.integers(0, 256, (20, 30, 3), dtype=np.uint8),
    }
    for name, array in cases.items():
        write_png(tmp_path / name, array)
        image = read_image(tmp_path / name)
        assert image.array.dtype == array.dtype and image.dtype == str(array.dtype)
        np.testing.assert_array_equal(image.array, array)
        assert image.value_range == (float(array.min()), float(array.max()))
    assert read_image(tmp_path / "rgb.png").layout == "HWC"


def test_png_is_written_with_the_fast_zlib_level(tmp_path):
    smooth = np.add.outer(np.arange(256), np.arange(256)).astype(np.uint16) * 64  # a map-like smooth ramp
    write_png(tmp_path / "m.png", smooth)
    data = (tmp_path / "m.png").read_bytes()
    idat = data.index(b"IDAT") + 4
    assert data[idat] == 0x78 and data[idat + 1] >> 6 == 0  # zlib header FLEVEL 0: the fastest levels (0-1)
    np.testing.assert_array_equal(read_image(tmp_path / "m.png").array, smooth)  # still lossless


def test_16bit_colour_png_is_refused_not_truncated(tmp_path):
    import struct
    import zlib

    rgb16 = np.random.default_rng(9).integers(0, 65536, (4, 5, 3), dtype=np.uint16)
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb16)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 5, 4, 16, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    (tmp_path / "rgb16.png").write_bytes(png)
    with pytest.raises(DataError, match="16-bit colour PNG is not supported"):
        read_image(tmp_path / "rgb16.png")


def test_jpeg_is_read_as_8bit(tmp_path):
    array = np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))
    Image.fromarray(array).save(tmp_path / "x.jpg", quality=95)
    image = read_image(tmp_path / "x.jpg")
    assert image.format == "jpeg" and image.array.dtype == np.uint8 and image.array.shape == (64, 64)
    assert np.abs(image.array.astype(int) - array).max() <= 4


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_tiff_round_trip_keeps_dtype_and_spacing(tmp_path, dtype):
    rng = np.random.default_rng(1)
    array = (rng.random((24, 40)) * (200 if dtype == "uint8" else 4000)).astype(dtype)
    write_tiff(tmp_path / "a.tif", array, spacing=(0.5, 0.5))
    image = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image.array, array)
    assert image.dtype == dtype
    assert image.spacing == pytest.approx((0.5, 0.5))


def test_tiff_rgb_and_stack(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    stack = np.random.default_rng(3).integers(0, 4096, (5, 16, 16), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    assert read_image(tmp_path / "rgb.tif").layout == "HWC"
    image = read_image(tmp_path / "stack.tif")
    assert image.layout == "SHW" and image.num_slices == 5
    np.testing.assert_array_equal(image.array, stack)


def test_npy_round_trip(tmp_path):
    array = np.random.default_rng(4).normal(size=(3, 8, 8)).astype(np.float32)
    write_npy(tmp_path / "a.npy", array)
    image = read_image(tmp_path / "a.npy")
    assert image.layout == "SHW"
    np.testing.assert_array_equal(image.array, array)


def test_dicom_rescale_slope_intercept(tmp_path, originals):
    ds = pydicom.dcmread(originals / "CT_small.dcm")
    raw = ds.pixel_array.astype(np.float64)
    ds.RescaleSlope, ds.RescaleIntercept = "2.5", "-1000"
    ds.save_as(tmp_path / "ct.dcm")
    image = read_image(tmp_path / "ct.dcm")
    np.testing.assert_allclose(image.array, raw * 2.5 - 1000)
    assert image.extra["rescale"] == (2.5, -1000.0)
    assert image.spacing == pytest.approx((0.661468, 0.661468))
    assert image.modality == "CT" and image.subject == ds.PatientID


def test_dicom_bundled_ct_is_in_hounsfield_units(originals):
    ds = pydicom.dcmread(originals / "CT_small.dcm")
    image = read_image(originals / "CT_small.dcm")
    np.testing.assert_array_equal(image.array, ds.pixel_array.astype(np.int64) * 1 - 1024)


def test_dicom_monochrome1_is_inverted(tmp_path, originals):
    ds = pydicom.dcmread(originals / "MR_small.dcm")
    raw = ds.pixel_array.astype(np.float64)
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(tmp_path / "m1.dcm")
    image = read_image(tmp_path / "m1.dcm")
    # signed 16-bit stored range [-32768, 32767] inverted: s -> -1 - s (a fixed map, not data-dependent)
    assert ds.PixelRepresentation == 1 and ds.BitsStored == 16
    np.testing.assert_allclose(image.array, -1.0 - raw)
    assert np.argmax(image.array) == np.argmin(raw)
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 0, 12, 11
    ds.RescaleSlope, ds.RescaleIntercept = "2", "10"
    ds.save_as(tmp_path / "m1u.dcm")
    # unsigned 12-bit: stored s -> 4095 - s, then the modality LUT
    np.testing.assert_allclose(read_image(tmp_path / "m1u.dcm").array, (4095 - raw) * 2 + 10)


def test_dicom_writer_round_trip(tmp_path, originals):
    src = read_image(originals / "CT_small.dcm")
    bigger = np.kron(src.array, np.ones((2, 2))).astype(np.float64)  # 256 x 256, values in HU
    write_like(tmp_path / "out.dcm", bigger, src)
    out_ds = pydicom.dcmread(tmp_path / "out.dcm")
    assert (out_ds.Rows, out_ds.Columns) == (256, 256)
    assert [float(v) for v in out_ds.PixelSpacing] == pytest.approx([0.661468 / 2] * 2, rel=1e-5)
    assert out_ds.SOPInstanceUID != src.extra["dataset"].SOPInstanceUID
    assert out_ds.file_meta.MediaStorageSOPInstanceUID == out_ds.SOPInstanceUID
    assert out_ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    back = read_image(tmp_path / "out.dcm")
    np.testing.assert_array_equal(back.array, bigger)


def test_dicom_writer_keeps_monochrome1_values(tmp_path, originals):
    ds = pydicom.dcmread(originals / "MR_small.dcm")
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    ds.save_as(tmp_path / "m1.dcm")
    src = read_image(tmp_path / "m1.dcm")
    write_like(tmp_path / "out.dcm", src.array[::2, ::2], src)
    back = read_image(tmp_path / "out.dcm")
    assert back.extra["photometric"] == "MONOCHROME1"  # kept: the stored values are those of the input
    np.testing.assert_array_equal(pydicom.dcmread(tmp_path / "out.dcm").pixel_array, ds.pixel_array[::2, ::2])
    assert back.extra["dataset"].PixelRepresentation == ds.PixelRepresentation
    np.testing.assert_allclose(back.array, src.array[::2, ::2])


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_dicom_writer_keeps_12_bit_stored_values_and_rescale(tmp_path, photometric):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    stored = (np.arange(16 * 20).reshape(16, 20) * 3 % 891 + 4).astype(np.uint16)  # 4..894 of 12 bits
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MRImageStorage, generate_uid(), "MR"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 16, 20, 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = "0.5", "-100"
    ds.PixelData = stored.tobytes()
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    src = read_image(tmp_path / "in.dcm")
    sign = -1 if photometric == "MONOCHROME1" else 1
    np.testing.assert_allclose(src.array, sign * (stored * 0.5 - 100) + (4095 * 0.5 - 200 if sign < 0 else 0))
    values = src.array.astype(np.float64)
    values[0, 0] = 1e6  # far outside the 12-bit range: clipped to it, never wrapped
    write_like(tmp_path / "out.dcm", values, src)
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert (out.BitsAllocated, out.BitsStored, out.HighBit, out.PixelRepresentation) == (16, 12, 11, 0)
    assert out.PhotometricInterpretation == photometric and float(out.RescaleSlope) == 0.5
    np.testing.assert_array_equal(out.pixel_array.ravel()[1:], stored.ravel()[1:])
    assert out.pixel_array[0, 0] == (0 if sign < 0 else 4095)


def test_dicom_multiframe(tmp_path, originals):
    src = read_image(originals / "emri_small.dcm")
    assert src.layout == "SHW" and src.num_slices == 10 and src.array.shape[1:] == (64, 64)
    write_like(tmp_path / "mf.dcm", src.array[:, ::2, ::2], src)
    back = read_image(tmp_path / "mf.dcm")
    assert back.layout == "SHW" and back.array.shape == (10, 32, 32)
    np.testing.assert_array_equal(back.array, src.array[:, ::2, ::2])


def test_dicom_compressed(tmp_path):
    test_files = pydicom.data.get_testdata_file("MR_small.dcm", read=False)
    folder = __import__("pathlib").Path(test_files).parent
    rle = read_image(folder / "MR_small_RLE.dcm")  # RLE: pydicom's own decoder
    np.testing.assert_array_equal(rle.array, read_image(folder / "MR_small.dcm").array)
    from pydicom.pixels.decoders import JPEGLSLosslessDecoder

    if JPEGLSLosslessDecoder.is_available:
        pytest.skip("a JPEG-LS decoder is installed; nothing to refuse")
    with pytest.raises(DataError, match="needs an optional decoder: pip install"):
        read_image(folder / "MR_small_jpeg_ls_lossless.dcm")


def test_nifti_canonical_orientation_and_affine(tmp_path, brain_volume):
    affine = np.array([[-2.0, 0, 0, 40], [0, 1.5, 0, -30], [0, 0, 3.0, -10], [0, 0, 0, 1]])  # LAS
    nib.save(nib.Nifti1Image(brain_volume, affine), tmp_path / "v.nii.gz")
    image = read_image(tmp_path / "v.nii.gz")
    canonical = nib.as_closest_canonical(nib.load(tmp_path / "v.nii.gz"))
    np.testing.assert_array_equal(image.array, np.moveaxis(canonical.get_fdata(), 2, 0).astype(np.float32))
    np.testing.assert_allclose(image.extra["affine"], canonical.affine)
    assert image.spacing == (2.0, 1.5) and image.slice_spacing == 3.0
    coronal = read_image(tmp_path / "v.nii.gz", slice_axis=1)
    assert coronal.array.shape == (48, 40, 20) and coronal.spacing == (2.0, 3.0)


def test_nifti_writer_updates_spacing_and_keeps_field_of_view(tmp_path, brain_volume):
    affine = np.array([[2.0, 0, 0, 40], [0, 1.5, 0, -30], [0, 0, 3.0, -10], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(brain_volume, affine), tmp_path / "v.nii.gz")
    src = read_image(tmp_path / "v.nii.gz")
    up = np.repeat(np.repeat(src.array, 4, axis=1), 4, axis=2)  # 4x in-plane
    write_like(tmp_path / "sr.nii.gz", up, src)
    out = nib.load(tmp_path / "sr.nii.gz")
    assert out.shape == (160, 192, 20)
    assert out.header.get_zooms()[:3] == pytest.approx((0.5, 0.375, 3.0))
    # the field of view is kept: the old voxel edge -0.5 maps to the new voxel edge -0.5
    np.testing.assert_allclose(out.affine @ [-0.5, -0.5, 0, 1], affine @ [-0.5, -0.5, 0, 1])
    np.testing.assert_allclose(resampled_affine(affine, (1, 1, 1)), affine)
    back = read_image(tmp_path / "sr.nii.gz")
    np.testing.assert_allclose(back.array, up, rtol=1e-6)


def test_nifti_writer_keeps_scaled_integer_values(tmp_path):
    stored = (np.arange(12 * 10 * 2).reshape(12, 10, 2) % 900).astype(np.int16)
    img = nib.Nifti1Image(stored, np.eye(4))
    img.header.set_slope_inter(0.01, 3.0)  # real values 3.00..11.99 in steps of 0.01
    nib.save(img, tmp_path / "in.nii.gz")
    src = read_image(tmp_path / "in.nii.gz")
    write_like(tmp_path / "out.nii.gz", src.array, src)
    out = nib.load(tmp_path / "out.nii.gz")
    assert out.get_data_dtype() == np.int16  # the input's encoding, scaled again (not rounded to 3..12)
    np.testing.assert_allclose(read_image(tmp_path / "out.nii.gz").array, src.array, atol=2e-4)


def test_nifti_4d_frame(originals):
    image = read_image(originals / "S0_10slices.nii.gz")
    assert image.layout == "SHW" and image.array.shape == (10, 128, 128) and image.dtype == "uint16"
    with pytest.raises(DataError, match="frame 1 out of range"):
        read_image(originals / "S0_10slices.nii.gz", frame=1)


def test_bad_inputs_raise_one_line_errors(tmp_path, originals):
    png = tmp_path / "ok.png"
    write_png(png, np.zeros((8, 8), np.uint8) + 7)
    (tmp_path / "trunc.png").write_bytes(png.read_bytes()[:40])
    shutil.copy(originals / "CT_small.dcm", tmp_path / "ct.png")
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "text.dcm").write_text("hello, not DICOM\n" * 20)
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [0.0, 1.0]]))
    np.save(tmp_path / "empty.npy", np.zeros((0, 5)))
    raw = (originals / "CT_small.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(raw[: len(raw) - 5000])
    expected = {
        "trunc.png": "cannot decode image",
        "ct.png": "extension says PNG but the content is DICOM",
        "empty.dcm": "file is empty",
        "text.dcm": "not a DICOM file",
        "nan.npy": "NaN/inf",
        "empty.npy": "empty image",
        "cut.dcm": "truncated or corrupt",
        "missing.png": "no such file",
    }
    for name, reason in expected.items():
        with pytest.raises(DataError, match=reason) as info:
            read_image(tmp_path / name)
        message = str(info.value)
        assert message.startswith(str(tmp_path / name) + ": ") and "\n" not in message
        assert isinstance(info.value, ValueError)


def test_write_like_png_and_tiff_keep_format_dtype_and_scale_spacing(tmp_path):
    array = (np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)
    write_png(tmp_path / "in.png", array)
    src = read_image(tmp_path / "in.png")
    up = np.kron(src.array, np.ones((2, 2))) + 0.4  # float output of a model, in the input's range
    write_like(tmp_path / "out.png", up, src)
    back = read_image(tmp_path / "out.png")
    assert back.array.dtype == np.uint16 and back.array.shape == (64, 64)
    np.testing.assert_array_equal(back.array, np.kron(array, np.ones((2, 2), np.uint16)))
    write_tiff(tmp_path / "in.tif", array.astype(np.float32), spacing=(0.8, 0.8))
    src = read_image(tmp_path / "in.tif")
    write_like(tmp_path / "out.tif", np.kron(src.array, np.ones((4, 4), np.float32)), src)
    back = read_image(tmp_path / "out.tif")
    assert back.dtype == "float32" and back.spacing == pytest.approx((0.2, 0.2))
    with pytest.raises(DataError, match="does not match the input layout"):
        write_like(tmp_path / "bad.png", np.zeros((2, 4, 4)), read_image(tmp_path / "in.png"))
    assert not (tmp_path / "bad.png").exists()
