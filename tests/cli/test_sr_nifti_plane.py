"""``zoo sr`` on NIfTI: the acquisition plane is super-resolved (axial, sagittal, coronal, oblique), the voxel
order, the physical extent and the sform/qform codes are kept; ``--axis`` overrides the slice axis."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from nibabel.testing import data_path

from zoo.cli import main

SCALE = 4  # the embedded default's


def _sr(args: list[str]):
    return CliRunner().invoke(main, ["sr", *args], catch_exceptions=False)


def _rotation(degrees: tuple[float, float]) -> np.ndarray:
    a, b = np.radians(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return rz @ rx


def _stack(path: Path, shape: tuple[int, int, int], directions: list[int], spacing: tuple[float, float, float],
           degrees: tuple[float, float] = (0.0, 0.0), codes: tuple[int, int] = (1, 1)) -> nib.Nifti1Image:
    """A volume whose voxel axis i runs along world axis ``directions[i]`` (0 x, 1 y, 2 z) with ``spacing[i]``,
    rotated by ``degrees``; smooth, different slices (so slice k of the output must match slice k of the input)."""
    rng = np.random.default_rng(len(str(path)))
    noise = rng.random((shape[0] + 2, shape[1] + 2, shape[2] + 2))
    smooth = sum(noise[i : i + shape[0], j : j + shape[1], k : k + shape[2]]
                 for i in range(3) for j in range(3) for k in range(3))
    data = (smooth * 100).astype(np.int16)
    affine = np.eye(4)
    affine[:3, :3] = _rotation(degrees) @ np.eye(3)[:, directions] @ np.diag(spacing)
    affine[:3, 3] = (-40.0, 25.0, 12.5)
    img = nib.Nifti1Image(data, affine)
    img.header.set_sform(affine, code=codes[0])
    img.header.set_qform(affine, code=codes[1])
    nib.save(img, path)
    return img


def _corners(shape, slice_axis: int) -> np.ndarray:
    """Homogeneous voxel coordinates of the grid's outer corners: voxel edges in-plane, slice centres across."""
    ranges = [(0.0, n - 1.0) if a == slice_axis else (-0.5, n - 0.5) for a, n in enumerate(shape[:3])]
    grid = np.array(np.meshgrid(*ranges, indexing="ij")).reshape(3, -1)
    return np.vstack([grid, np.ones(grid.shape[1])])


def _check_geometry(src: nib.Nifti1Image, out: nib.Nifti1Image, axis: int) -> None:
    want = tuple(n if a == axis else n * SCALE for a, n in enumerate(src.shape[:3])) + src.shape[3:]
    assert out.shape == want
    for form in ("sform", "qform"):
        assert int(out.header[f"{form}_code"]) == int(src.header[f"{form}_code"])
    np.testing.assert_allclose(out.affine @ _corners(out.shape, axis), src.affine @ _corners(src.shape, axis),
                               atol=1e-3)  # the same physical region
    np.testing.assert_allclose(out.header.get_qform(), out.affine, atol=1e-4)
    zooms = [z if a == axis else z / SCALE for a, z in enumerate(src.header.get_zooms()[:3])]
    np.testing.assert_allclose(out.header.get_zooms()[:3], zooms, rtol=1e-5)


def _check_voxel_order(src: nib.Nifti1Image, out: nib.Nifti1Image, axis: int) -> None:
    """Slice k of the output, averaged back over SCALE x SCALE blocks, matches slice k of the input."""
    lr = np.moveaxis(np.asarray(src.dataobj, dtype=float), axis, 0)
    sr = np.moveaxis(np.asarray(out.dataobj, dtype=float), axis, 0)
    down = sr.reshape(sr.shape[0], lr.shape[1], SCALE, lr.shape[2], SCALE).mean(axis=(2, 4))
    for k in range(lr.shape[0]):
        corr = [np.corrcoef(down[k].ravel(), lr[j].ravel())[0, 1] for j in range(lr.shape[0])]
        assert corr[k] > 0.9 and int(np.argmax(corr)) == k, (k, corr)


CASES = {  # name: (shape, world direction of each voxel axis, spacing, slice axis)
    "axial": ((16, 12, 5), [0, 1, 2], (0.9, 1.0, 4.0), 2),
    "sagittal": ((6, 16, 12), [0, 1, 2], (5.0, 1.0, 1.0), 0),  # the issue's: slices along x, 5 mm apart
    "coronal-stored-last": ((16, 12, 5), [0, 2, 1], (0.9, 1.0, 3.0), 2),  # voxel axis 2 along y
    "coronal-middle": ((16, 5, 12), [2, 1, 0], (0.8, 3.5, 0.8), 1),
}


@pytest.mark.parametrize("oblique", [False, True], ids=["straight", "oblique"])
@pytest.mark.parametrize("name", list(CASES))
def test_sr_nifti_in_the_acquisition_plane(tmp_path, name, oblique):
    shape, directions, spacing, axis = CASES[name]
    src = _stack(tmp_path / f"{name}.nii.gz", shape, directions, spacing, (25.0, -15.0) if oblique else (0.0, 0.0),
                 codes=(2, 1))
    res = _sr([str(tmp_path / f"{name}.nii.gz"), "--out", str(tmp_path / "o"), "--self-ensemble", "1"])
    assert res.exit_code == 0, res.output
    out = nib.load(tmp_path / "o" / f"{name}.nii.gz")
    _check_geometry(src, out, axis)
    _check_voxel_order(src, out, axis)


def test_sr_axis_overrides_the_slice_axis(tmp_path):
    src = _stack(tmp_path / "ax.nii.gz", (6, 8, 10), [0, 1, 2], (0.9, 1.0, 4.0), codes=(4, 0))
    res = _sr([str(tmp_path / "ax.nii.gz"), "--out", str(tmp_path / "o"), "--self-ensemble", "1", "--axis", "0"])
    assert res.exit_code == 0, res.output
    out = nib.load(tmp_path / "o" / "ax.nii.gz")
    _check_geometry(src, out, 0)
    _check_voxel_order(src, out, 0)
    res = _sr([str(tmp_path / "ax.nii.gz"), "--out", str(tmp_path / "o"), "--self-ensemble", "1", "--axis", "0",
               "--resume"])  # the output of --axis 0 counts as complete for --axis 0
    assert res.exit_code == 0 and "skipped 1 complete" in res.output, res.output


def test_sr_4d_nibabel_example_every_frame_in_its_own_voxel_order(tmp_path):
    """nibabel's functional.nii: 4D, LAS (x flipped against canonical), 4x4x8 mm, sform/qform code 2."""
    src_path = os.path.join(data_path, "functional.nii")
    src = nib.load(src_path)
    res = _sr([src_path, "--out", str(tmp_path / "o"), "--self-ensemble", "1"])
    assert res.exit_code == 0, res.output
    out = nib.load(tmp_path / "o" / "functional.nii.gz")
    _check_geometry(src, out, 2)
    assert out.header.get_zooms()[3] == pytest.approx(src.header.get_zooms()[3])
    for t in (0, src.shape[3] - 1):
        _check_voxel_order(src.slicer[..., t], out.slicer[..., t], 2)


@pytest.mark.parametrize("value", ["3", "x", "-1", "axial"])
def test_sr_bad_axis_is_one_line_exit_2_nothing_written(tmp_path, value):
    _stack(tmp_path / "v.nii.gz", (6, 8, 4), [0, 1, 2], (1.0, 1.0, 3.0))
    res = CliRunner().invoke(main, ["sr", str(tmp_path / "v.nii.gz"), "--out", str(tmp_path / "o"), "--axis", value])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert lines == [f"zoo: error: --axis {value!r}: use auto, 0, 1 or 2 (the NIfTI voxel axis to slice along)"]
    assert not (tmp_path / "o").exists()
