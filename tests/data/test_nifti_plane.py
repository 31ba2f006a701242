"""NIfTI read in its own voxel order, sliced across the acquisition plane, written back with its sform/qform
(matrices scaled to the new grid, codes kept)."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from zoo.data.readers import read_image
from zoo.data.slices import acquisition_slice_axis, parse_slice_axis
from zoo.data.writers import resampled_affine, write_like


@pytest.mark.parametrize(("spacing", "shape", "axis"), [
    ((1.0, 1.0, 1.0), (8, 8, 8), 2),  # isotropic: the last axis, as before
    ((0.9, 0.9, 4.0), (8, 8, 5), 2),  # axial
    ((5.0, 1.0, 1.0), (12, 8, 8), 0),  # sagittal stack
    ((1.0, 3.0, 1.0), (8, 5, 8), 1),  # coronal stack
    ((3.0, 1.0, 3.0), (8, 8, 8), 2),  # a tie between the largest: the last of them
    ((1.0, 3.0, 2.0), (4, 5, 7), 1),
    ((2.0, 1.0, 1.0), (1, 8, 8), 0),  # one slice: its axis, whatever the spacing
    ((1.0, 1.0, 0.5), (8, 8, 1), 2),
])
def test_acquisition_slice_axis_is_the_coarsest_axis_ties_to_the_last(spacing, shape, axis):
    assert acquisition_slice_axis(spacing, shape) == axis


@pytest.mark.parametrize("bad", [3, -1, "x", "", "1.0", True, None])
def test_parse_slice_axis_refuses_anything_but_auto_0_1_2(bad):
    with pytest.raises(ValueError, match="slice axis must be auto, 0, 1 or 2"):
        parse_slice_axis(bad)
    assert [parse_slice_axis(v) for v in ("auto", "AUTO", 0, "1", " 2")] == ["auto", "auto", 0, 1, 2]


def test_sr_options_check_the_axis_once():
    from zoo.data.sr_files import SROptions

    assert SROptions().axis == "auto" and SROptions(axis="1").axis == 1
    with pytest.raises(ValueError, match="slice axis must be auto, 0, 1 or 2, got 3"):
        SROptions(axis=3)


def _oblique(spacing, origin=(12.0, -30.0, 7.5), degrees=(20.0, -12.0)) -> np.ndarray:
    """An affine with voxel sizes ``spacing`` whose axes are rotated about x, then z."""
    a, b = np.radians(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rz @ rx @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def test_read_keeps_voxel_order_and_slices_across_the_acquisition_plane(tmp_path):
    data = np.random.default_rng(0).random((6, 10, 12)).astype(np.float32)
    affine = _oblique((4.0, 0.9, 0.8))[:, [1, 0, 2, 3]]  # voxel axis 1 is the thick one, pointing along y-ish
    img = nib.Nifti1Image(data, affine)
    nib.save(img, tmp_path / "v.nii.gz")
    image = read_image(tmp_path / "v.nii.gz", slice_axis="auto", canonical=False)
    assert image.extra["slice_axis"] == 1 and image.array.shape == (10, 6, 12)
    np.testing.assert_array_equal(image.array, np.moveaxis(data, 1, 0))  # no reorientation
    np.testing.assert_allclose(image.extra["affine"], affine)
    assert image.spacing == pytest.approx((0.9, 0.8)) and image.slice_spacing == pytest.approx(4.0)
    assert read_image(tmp_path / "v.nii.gz", slice_axis=0, canonical=False).array.shape == (6, 10, 12)
    with pytest.raises(ValueError, match="slice axis must be auto, 0, 1 or 2"):
        read_image(tmp_path / "v.nii.gz", slice_axis=3, canonical=False)


def _corners(shape, slice_axis: int) -> np.ndarray:
    """Homogeneous voxel coordinates of the grid's outer corners: voxel edges in-plane, slice centres across."""
    ranges = [(0.0, n - 1.0) if a == slice_axis else (-0.5, n - 0.5) for a, n in enumerate(shape[:3])]
    grid = np.array(np.meshgrid(*ranges, indexing="ij")).reshape(3, -1)
    return np.vstack([grid, np.ones(grid.shape[1])])


@pytest.mark.parametrize("name", ["anatomical.nii", "example4d.nii.gz", "standard.nii.gz", "example_nifti2.nii.gz"])
def test_write_like_scales_sform_and_qform_keeps_codes_on_nibabel_data(tmp_path, name):
    """nibabel's LAS files (oblique example4d, 4D; standard.nii.gz has qform_code 0 and spacing 1x3x2), and a
    NIfTI-2 file, written back as NIfTI-2."""
    src_path = os.path.join(data_path, name)
    src_img = nib.load(src_path)
    image = read_image(src_path, frame=None, slice_axis="auto", canonical=False)
    axis = image.extra["slice_axis"]
    up = np.repeat(np.repeat(image.array, 2, axis=1), 3, axis=2).astype(np.float32)  # 2x rows, 3x columns
    write_like(tmp_path / "o.nii.gz", up, image)
    out = nib.load(tmp_path / "o.nii.gz")
    assert type(out) is type(src_img)
    rows, cols = (a for a in range(3) if a != axis)
    zoom = [1.0, 1.0, 1.0]
    zoom[rows], zoom[cols] = 2.0, 3.0
    assert out.shape[:3] == tuple(int(n * z) for n, z in zip(src_img.shape[:3], zoom, strict=True))
    assert out.shape[3:] == src_img.shape[3:]
    for form in ("sform", "qform"):
        assert int(out.header[f"{form}_code"]) == int(src_img.header[f"{form}_code"])
        want = resampled_affine(getattr(src_img.header, f"get_{form}")(), tuple(zoom))
        np.testing.assert_allclose(getattr(out.header, f"get_{form}")(), want, atol=1e-4)
    np.testing.assert_allclose(out.affine @ _corners(out.shape, axis), src_img.affine @ _corners(src_img.shape, axis),
                               atol=1e-3)
    np.testing.assert_allclose(out.header.get_zooms(), np.asarray(src_img.header.get_zooms()) / (zoom + [1.0] * (
        len(src_img.shape) - 3)), rtol=1e-5)
    back = read_image(tmp_path / "o.nii.gz", frame=None, slice_axis=axis, canonical=False)
    np.testing.assert_allclose(back.array, up, rtol=1e-3, atol=1e-3)


def test_canonical_read_keeps_the_codes_too(tmp_path):
    """The canonical read (zoo prepare's) moves both forms to the canonical voxel order and keeps their codes."""
    src = os.path.join(data_path, "anatomical.nii")  # LAS, sform/qform code 2
    image = read_image(src)
    canonical = nib.as_closest_canonical(nib.load(src))
    np.testing.assert_allclose(image.extra["forms"]["qform"][0], canonical.affine)
    write_like(tmp_path / "o.nii.gz", image.array, image)
    out = nib.load(tmp_path / "o.nii.gz")
    assert (int(out.header["sform_code"]), int(out.header["qform_code"])) == (2, 2)
    np.testing.assert_allclose(out.header.get_qform(), canonical.affine, atol=1e-4)
