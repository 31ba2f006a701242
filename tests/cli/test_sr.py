"""``zoo sr`` on every supported format, bad files, globs and the manifest."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zoo.cli import main


def _sr(args: list[str]):
    return CliRunner().invoke(main, ["sr", *args], catch_exceptions=False)


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("fmt", ["png8", "png16", "jpeg", "tiff", "npy", "nifti", "dicom"])
def test_sr_writes_each_format_4x_in_the_input_format(fmt, inputs, tiny_pipeline, tmp_path):
    from zoo.data.readers import read_image

    src = inputs[fmt]
    res = _sr([str(src), "--out", str(tmp_path / "out"), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 0, res.output
    (row,) = _manifest(tmp_path / "out")
    out = tmp_path / "out" / row["output"]
    assert row["input"] == str(src) and out.exists()
    before, after = read_image(src), read_image(out)
    assert after.format == ("png" if before.format == "jpeg" else before.format)
    assert after.layout == before.layout
    assert after.array.shape[-2:] == tuple(4 * s for s in before.array.shape[-2:])
    if before.is_volume:
        assert after.array.shape[0] == before.array.shape[0]
    if before.format == "dicom":  # stored as unsigned + rescale intercept; the values keep the input's range
        assert before.array.min() <= after.array.min() and after.array.max() <= before.array.max()
    elif before.format != "jpeg":
        assert after.dtype == before.dtype
    if before.spacing is not None and after.spacing is not None:
        np.testing.assert_allclose(after.spacing, np.asarray(before.spacing) / 4, rtol=1e-4)


def test_sr_nifti_keeps_the_affine_origin_and_scales_in_plane_spacing(inputs, tiny_pipeline, tmp_path):
    import nibabel as nib

    res = _sr([str(inputs["nifti"]), "--out", str(tmp_path), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 0, res.output
    before, after = nib.load(inputs["nifti"]), nib.load(tmp_path / "vol.nii.gz")
    assert after.shape == (48, 64, 3)
    np.testing.assert_allclose(after.header.get_zooms(), (0.2, 0.225, 3.0), rtol=1e-5)
    np.testing.assert_allclose(after.affine[:3, 2], before.affine[:3, 2])  # the slice axis is unchanged


def test_sr_bad_file_is_one_line_others_complete_exit_2(inputs, tiny_pipeline, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    missing = tmp_path / "missing.dcm"
    res = CliRunner().invoke(main, ["sr", str(bad), str(inputs["png8"]), str(missing), "--out", str(tmp_path / "o"),
                                    "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 2
    errors = [line for line in res.output.splitlines() if line.startswith("zoo: error:")]
    assert len(errors) == 2
    assert any(str(bad) in e for e in errors) and any(str(missing) in e for e in errors)
    assert [r["id"] for r in _manifest(tmp_path / "o")] == ["gray8"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["gray8.png", "manifest.csv"]


def test_sr_folders_and_globs_with_repeated_names(inputs, tiny_pipeline, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "scan.png").write_bytes(inputs["png8"].read_bytes())
    res = _sr([str(tmp_path / "a"), str(tmp_path / "*" / "scan.png"), "--out", str(tmp_path / "o"),
               "--pipeline", str(tiny_pipeline), "--seed", "3"])
    assert res.exit_code == 0, res.output
    rows = _manifest(tmp_path / "o")
    assert [r["id"] for r in rows] == ["scan", "scan-2"]
    assert {Path(r["input"]).parent.name for r in rows} == {"a", "b"}


def test_sr_is_seeded(inputs, tiny_pipeline, tmp_path):
    from zoo.data.readers import read_image

    for name in ("one", "two"):
        res = _sr([str(inputs["png16"]), "--out", str(tmp_path / name), "--pipeline", str(tiny_pipeline),
                   "--sampler", "ddpm", "--steps", "2", "--seed", "7"])
        assert res.exit_code == 0, res.output
    a, b = (read_image(tmp_path / n / "gray16.png").array for n in ("one", "two"))
    np.testing.assert_array_equal(a, b)


def test_sr_on_a_prepared_folder_takes_the_lr_images_of_one_split(tiny_pipeline, tmp_path):
    from tests.train.helpers import make_prepared

    prepared = make_prepared(tmp_path / "prep", n_train=3, n_val=2, size=16)
    res = _sr([str(prepared), "--split", "val", "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 0, res.output
    rows = _manifest(tmp_path / "o")
    assert [r["id"] for r in rows] == ["img003", "img004"]
    assert all(Path(r["input"]).parent.name == "lr" for r in rows)


def test_sr_without_pipeline_uses_the_embedded_default(inputs, tmp_path):
    from zoo.data.readers import read_image

    res = _sr([str(inputs["png16"]), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    out = read_image(tmp_path / "gray16.png")
    assert out.array.shape == (48, 64) and out.dtype == "uint16"


def test_sr_with_no_usable_input_writes_nothing(tiny_pipeline, tmp_path):
    res = CliRunner().invoke(main, ["sr", str(tmp_path / "missing.png"), "--out", str(tmp_path / "o"),
                                    "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 2
    assert "missing.png" in res.output and "nothing written" in res.output
    assert not (tmp_path / "o").exists()


def test_sr_unknown_backend_is_one_line_and_writes_nothing(inputs, tiny_pipeline, tmp_path):
    res = CliRunner().invoke(main, ["sr", str(inputs["png8"]), "--out", str(tmp_path / "o"),
                                    "--pipeline", str(tiny_pipeline), "--backend", "no-such-backend"])
    assert res.exit_code == 2
    assert "no-such-backend" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_sr_on_the_openvino_backend_matches_torch(inputs, tiny_pipeline, tmp_path, monkeypatch):
    pytest.importorskip("openvino")
    from zoo.data.readers import read_image

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the backend's export cache
    for backend in ("torch", "openvino"):
        res = _sr([str(inputs["png16"]), "--out", str(tmp_path / backend), "--pipeline", str(tiny_pipeline),
                   "--backend", backend])
        assert res.exit_code == 0, res.output
    a, b = (read_image(tmp_path / name / "gray16.png").array.astype(float) for name in ("torch", "openvino"))
    assert a.shape == b.shape == (48, 64)
    # bf16 where the CPU has it: close, not equal (random weights amplify rounding to ~1.5 % here)
    assert np.abs(a - b).mean() < 0.03 * 65535
