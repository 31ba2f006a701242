"""``zoo sr --uncertainty``: the map beside each output, in every format, listed, resumed and guarded."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zoo.cli import main

ENSEMBLE = ["--self-ensemble", "2"]  # the tiny pipeline's own option is 1: two orientations give a spread


def _sr(args: list[str]):
    return CliRunner().invoke(main, ["sr", *args], catch_exceptions=False)


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _api_map(pipeline: Path, array: np.ndarray) -> np.ndarray:
    """The map the Python API gives for one array (what the file must hold, in the output's units)."""
    import zoo

    pipe = zoo.load_pipeline(pipeline)
    _, (error,) = pipe([array], seed=0, progress=False, self_ensemble=2, uncertainty=True)
    return error


@pytest.mark.parametrize(("kind", "dtype"), [("png8", np.uint8), ("png16", np.uint16), ("tiff", np.float32)])
def test_png_and_tiff_maps_keep_the_output_encoding(tiny_pipeline, inputs, tmp_path, kind, dtype):
    from zoo.data.readers import read_image

    src = inputs[kind]
    res = _sr([str(src), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline), "--uncertainty", *ENSEMBLE])
    assert res.exit_code == 0, res.output
    suffix = src.name[len(src.stem):]
    output = read_image(tmp_path / "o" / src.name)
    error = read_image(tmp_path / "o" / f"{src.stem}.uncertainty{suffix}")
    assert error.array.dtype == output.array.dtype == dtype and error.array.shape == output.array.shape
    expected = _api_map(tiny_pipeline, read_image(src).array)
    if dtype == np.float32:
        np.testing.assert_allclose(error.array, expected, rtol=1e-5, atol=1e-7)
    else:  # v grey levels of the output: the map in the input's units, rounded
        np.testing.assert_array_equal(error.array, np.clip(np.rint(expected), 0, np.iinfo(dtype).max).astype(dtype))
        assert error.array.max() > 0
    (row,) = _manifest(tmp_path / "o")
    assert row["uncertainty"] == f"{src.stem}.uncertainty{suffix}" and len(row["uncertainty_sha256"]) == 64


@pytest.mark.parametrize("frames", [1, 4])
def test_nifti_maps_are_float32_with_the_output_affine(tiny_pipeline, tmp_path, frames):
    import nibabel as nib

    rng = np.random.default_rng(0)
    shape = (12, 16, 3) if frames == 1 else (12, 16, 3, frames)
    affine = np.diag([0.8, 0.9, 3.0, 1.0])
    affine[:3, 3] = (10.0, -20.0, 5.0)
    nib.save(nib.Nifti1Image((rng.random(shape) * 1000).astype(np.int16), affine), tmp_path / "v.nii.gz")
    res = _sr([str(tmp_path / "v.nii.gz"), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline),
               "--uncertainty", *ENSEMBLE])
    assert res.exit_code == 0, res.output
    out, error = nib.load(tmp_path / "o" / "v.nii.gz"), nib.load(tmp_path / "o" / "v.uncertainty.nii.gz")
    assert error.get_data_dtype() == np.float32 and error.shape == out.shape == (48, 64, *shape[2:])
    np.testing.assert_allclose(error.affine, out.affine)
    np.testing.assert_allclose(error.header.get_zooms(), out.header.get_zooms())
    values = np.asarray(error.dataobj)
    assert values.dtype == np.float32 and (values >= 0).all()
    assert all(values[..., k].max() > 0 for k in range(shape[2]))  # every slice (and frame) has its map


def test_dicom_map_is_its_own_derived_series_referencing_the_sr(tiny_pipeline, inputs, tmp_path):
    import pydicom

    from zoo.data.readers import read_image

    src = inputs["dicom"]
    res = _sr([str(src), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline), "--uncertainty", *ENSEMBLE])
    assert res.exit_code == 0, res.output
    source = pydicom.dcmread(src)
    sr = pydicom.dcmread(tmp_path / "o" / src.name)
    error = pydicom.dcmread(tmp_path / "o" / f"{src.stem}.uncertainty.dcm")
    assert len({error.SeriesInstanceUID, sr.SeriesInstanceUID, source.SeriesInstanceUID}) == 3
    assert error.SOPInstanceUID not in (sr.SOPInstanceUID, source.SOPInstanceUID)
    assert list(error.ImageType[:2]) == ["DERIVED", "SECONDARY"]
    assert "uncertainty" in error.SeriesDescription and "expected absolute error" in error.DerivationDescription
    assert error.SourceImageSequence[0].ReferencedSOPInstanceUID == sr.SOPInstanceUID
    values = read_image(tmp_path / "o" / f"{src.stem}.uncertainty.dcm").array  # in the image's units, read back
    assert values.shape == read_image(tmp_path / "o" / src.name).array.shape
    expected = _api_map(tiny_pipeline, read_image(src).array)
    np.testing.assert_allclose(values, expected, atol=0.5 * float(source.get("RescaleSlope", 1)) + 1e-6)


def test_resume_keeps_complete_maps_and_redoes_a_missing_one(tiny_pipeline, tmp_path):
    from zoo.data.writers import write_png

    rng = np.random.default_rng(3)
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        write_png(tmp_path / "in" / f"{name}.png", (rng.random((12, 16)) * 65535).astype(np.uint16), bits=16)
    args = [str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline), "--uncertainty",
            *ENSEMBLE]
    assert _sr(args).exit_code == 0
    kept = tmp_path / "o" / "a.uncertainty.png"
    stamp = kept.stat().st_mtime_ns
    (tmp_path / "o" / "b.uncertainty.png").unlink()
    res = _sr([*args, "--resume"])
    assert res.exit_code == 0, res.output
    assert "skipped 1 complete" in res.output and kept.stat().st_mtime_ns == stamp
    assert (tmp_path / "o" / "b.uncertainty.png").is_file()
    assert {r["uncertainty"] for r in _manifest(tmp_path / "o")} == {"a.uncertainty.png", "b.uncertainty.png"}


def test_an_existing_map_is_kept_without_overwrite(tiny_pipeline, inputs, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "gray8.uncertainty.png").write_bytes(b"mine")
    args = [str(inputs["png8"]), "--out", str(out), "--pipeline", str(tiny_pipeline), "--uncertainty", *ENSEMBLE]
    res = _sr(args)
    assert res.exit_code == 2 and "gray8.uncertainty.png" in res.output and "--overwrite" in res.output
    assert (out / "gray8.uncertainty.png").read_bytes() == b"mine" and not (out / "gray8.png").exists()
    assert _sr([*args, "--overwrite"]).exit_code == 0
    assert (out / "gray8.uncertainty.png").read_bytes() != b"mine"


def test_a_run_that_cannot_estimate_it_is_one_line_naming_the_options(tiny_pipeline, inputs, tmp_path):
    res = _sr([str(inputs["png8"]), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline), "--uncertainty"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "--self-ensemble" in lines[0] and "--uncertainty-samples" in lines[0]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_eval_scores_the_maps_of_a_prepared_split(tiny_pipeline, tmp_path):
    import json

    import zoo

    prepared = Path(zoo.__file__).resolve().parent / "assets" / "samples" / "prepared"
    sr = tmp_path / "sr"
    res = _sr([str(prepared), "--split", "val", "--out", str(sr), "--pipeline", str(tiny_pipeline), "--uncertainty",
               *ENSEMBLE])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["eval", "--pred", str(sr), "--ref", str(prepared), "--out", str(tmp_path / "r"),
                                    "--uncertainty", str(sr), "--no-figures", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)["summary"]
    assert summary["unc_ratio"]["mean"] > 0 and 0.0 < summary["unc_lift"]["mean"] <= 10.0  # random weights
    assert 0.0 <= summary["unc_auroc"]["mean"] <= 1.0 and -1.0 <= summary["unc_spearman"]["mean"] <= 1.0
    (next(sr.glob("*.uncertainty.png"))).unlink()  # a prediction without its map: one line, exit 2
    res = CliRunner().invoke(main, ["eval", "--pred", str(sr), "--ref", str(prepared), "--out", str(tmp_path / "r2"),
                                    "--uncertainty", str(sr), "--no-figures"], catch_exceptions=False)
    assert res.exit_code == 2 and "no map" in res.output and len(res.output.strip().splitlines()) == 1
