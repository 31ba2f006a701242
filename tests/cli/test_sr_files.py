"""``zoo sr`` over real-size data: volumes and frames, DICOM derived series, guards, bad files, resuming."""

from __future__ import annotations

import copy
import csv
import hashlib
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zoo.cli import main

REPO = Path(__file__).resolve().parents[2]
MR = REPO / "zoo" / "assets" / "samples" / "original" / "MR_small.dcm"


def _sr(args: list[str]):
    return CliRunner().invoke(main, ["sr", *args], catch_exceptions=False)


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _env() -> dict[str, str]:
    paths = [str(REPO), str(REPO / "export"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _png(path: Path, seed: int, size: int = 16) -> Path:
    from zoo.data.writers import write_png

    rng = np.random.default_rng(seed)
    write_png(path, (rng.random((size, size)) * 65535).astype(np.uint16), bits=16)
    return path


def _bomb_png(path: Path) -> Path:
    """A small PNG whose header declares 30000 x 30000 pixels (Pillow refuses it as a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


# volumes ------------------------------------------------------------------------------------------
def test_sr_4d_nifti_processes_every_frame_with_affine_and_zooms(tiny_pipeline, tmp_path):
    import nibabel as nib

    rng = np.random.default_rng(0)
    data = (rng.random((12, 16, 3, 4)) * 1000).astype(np.int16)
    data[..., 2] += 2000  # frames differ in range: one mapping for the file keeps them apart
    affine = np.diag([0.8, 0.9, 3.0, 1.0])
    affine[:3, 3] = (10.0, -20.0, 5.0)
    img = nib.Nifti1Image(data, affine)
    img.header.set_zooms((0.8, 0.9, 3.0, 2.5))
    src = tmp_path / "fmri.nii.gz"
    nib.save(img, src)
    res = _sr([str(src), "--out", str(tmp_path / "o")])  # the embedded default: its output follows the input
    assert res.exit_code == 0, res.output
    out = nib.load(tmp_path / "o" / "fmri.nii.gz")
    assert out.shape == (48, 64, 3, 4)  # every slice of every frame (the old code kept frame 0 only)
    np.testing.assert_allclose(out.header.get_zooms(), (0.2, 0.225, 3.0, 2.5), rtol=1e-5)
    np.testing.assert_allclose(out.affine[:3, 2], img.affine[:3, 2])
    sr = np.asarray(out.dataobj).astype(float)
    means = [sr[..., t].mean() for t in range(4)]
    assert means[2] > max(means[0], means[1], means[3]) + 1000  # frame 2 stays brighter: one mapping per file


def test_sr_volume_uses_one_mapping_and_one_seed_for_all_slices(tiny_pipeline, tmp_path):
    """Two identical slices of a volume give identical outputs (same seed), and a slice at 1/10 the
    intensity of the others stays dim (one intensity mapping for the volume, not one per slice)."""
    import nibabel as nib

    rng = np.random.default_rng(1)
    sl = (rng.random((12, 16)) * 1000).astype(np.float32)
    vol = np.stack([sl, sl, sl * 0.1], axis=-1)
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "v.nii.gz")
    res = _sr([str(tmp_path / "v.nii.gz"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    sr = np.asarray(nib.load(tmp_path / "o" / "v.nii.gz").dataobj)
    np.testing.assert_array_equal(sr[..., 0], sr[..., 1])
    assert sr[..., 2].mean() < 0.5 * sr[..., 0].mean()


def _dicom(path: Path, frames: int = 1, *, series: str | None = None, monochrome1: bool = False, sop: str = "") -> Path:
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = pydicom.dcmread(MR)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress()
    pixels = ds.pixel_array
    if frames > 1:
        stack = np.stack([np.roll(pixels, 3 * i, axis=1) for i in range(frames)])
        ds.NumberOfFrames = frames
        ds.PixelData = stack.astype(pixels.dtype).tobytes()
    if series:
        ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = sop or generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SeriesDescription = "T1 axial"
    ds.WindowCenter, ds.WindowWidth = 600, 1200
    if monochrome1:
        ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_sr_multiframe_dicom_keeps_every_frame(tiny_pipeline, tmp_path):
    import pydicom

    (tmp_path / "in").mkdir()
    src = _dicom(tmp_path / "in" / "cine.dcm", frames=3)
    res = _sr([str(src), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 0, res.output
    before, after = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "o" / "cine.dcm")
    assert int(after.NumberOfFrames) == 3
    assert after.pixel_array.shape == (3, 4 * before.Rows, 4 * before.Columns)
    a = after.pixel_array.astype(float)
    assert not np.array_equal(a[0], a[1])  # the frames are the input's frames, not one frame repeated


def test_sr_dicom_folder_becomes_a_derived_series(tiny_pipeline, tmp_path):
    import pydicom

    from zoo.data.readers import read_image

    (tmp_path / "in").mkdir()
    series = "1.2.826.0.1.3680043.8.498.1111"
    srcs = [_dicom(tmp_path / "in" / f"im{i}.dcm", series=series) for i in range(2)]
    other = _dicom(tmp_path / "in" / "other.dcm", series="1.2.826.0.1.3680043.8.498.2222", monochrome1=True)
    res = _sr([str(tmp_path / "in"), "--out", str(tmp_path / "o")])  # the embedded default: values follow
    assert res.exit_code == 0, res.output
    outs = {p.stem: pydicom.dcmread(p) for p in (tmp_path / "o").glob("*.dcm")}
    ins = {p.stem: pydicom.dcmread(p) for p in [*srcs, other]}
    assert set(outs) == set(ins)
    new_series = {outs["im0"].SeriesInstanceUID, outs["im1"].SeriesInstanceUID}
    assert len(new_series) == 1 and series not in new_series  # one new series per input series
    assert outs["other"].SeriesInstanceUID not in new_series | {series}
    assert len({o.SOPInstanceUID for o in outs.values()} | {i.SOPInstanceUID for i in ins.values()}) == 6
    for name, out in outs.items():
        src = ins[name]
        assert list(out.ImageType)[:2] == ["DERIVED", "SECONDARY"]
        ref = out.SourceImageSequence[0]
        assert ref.ReferencedSOPInstanceUID == src.SOPInstanceUID and ref.ReferencedSOPClassUID == src.SOPClassUID
        assert "x4" in out.DerivationDescription and out.SeriesDescription == "T1 axial SR x4"
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
        assert (out.Rows, out.Columns) == (4 * src.Rows, 4 * src.Columns)
        np.testing.assert_allclose([float(v) for v in out.PixelSpacing], [float(v) / 4 for v in src.PixelSpacing],
                                   rtol=1e-4)
        assert float(out.WindowCenter) == 600 and float(out.WindowWidth) == 1200
        assert out.PhotometricInterpretation == src.PhotometricInterpretation  # MONOCHROME1 kept
        assert out.StudyInstanceUID == src.StudyInstanceUID and out.FrameOfReferenceUID == src.FrameOfReferenceUID
        # values read back (modality LUT, MONOCHROME1 inverted) keep the input's level: the window still fits
        before = read_image(tmp_path / "in" / f"{name}.dcm").array
        after = read_image(tmp_path / "o" / f"{name}.dcm").array
        assert abs(float(after.mean()) - float(before.mean())) < 0.15 * float(np.ptp(before))
        # the first pixel's centre moved by half the old minus half the new spacing along the image axes
        old, new = np.array(src.ImagePositionPatient, float), np.array(out.ImagePositionPatient, float)
        assert np.linalg.norm(new - old) == pytest.approx(
            0.5 * np.hypot(*(float(v) * 0.75 for v in src.PixelSpacing)), rel=1e-3)


# guards -------------------------------------------------------------------------------------------
def test_sr_refuses_out_inside_the_input_folder_and_writes_nothing(tiny_pipeline, tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    a = _png(scans / "a.png", 0)
    before = {p: p.read_bytes() for p in scans.iterdir()}
    for out in (scans, scans / "sr"):
        res = CliRunner().invoke(main, ["sr", str(scans), "--out", str(out), "--pipeline", str(tiny_pipeline),
                                        "--overwrite"])
        assert res.exit_code == 2 and "input" in res.output and "nothing written" in res.output
        assert len(res.output.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in scans.iterdir()} == before and a.exists()
    # a file given as input whose output would be itself
    res = CliRunner().invoke(main, ["sr", str(a), "--out", str(scans), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 2 and a.read_bytes() == before[a]


def test_sr_keeps_existing_outputs_unless_overwrite(tiny_pipeline, tmp_path):
    src = _png(tmp_path / "a.png", 0)
    out = tmp_path / "o"
    out.mkdir()
    (out / "a.png").write_bytes(b"earlier output")
    res = CliRunner().invoke(main, ["sr", str(src), "--out", str(out), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert (out / "a.png").read_bytes() == b"earlier output" and not (out / "manifest.csv").exists()
    (out / "a.png").unlink()
    (out / "manifest.csv").write_text("id,input,output,sha256\nold,x,y,z\n")
    res = CliRunner().invoke(main, ["sr", str(src), "--out", str(out), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 2 and "manifest.csv" in res.output and not (out / "a.png").exists()
    res = _sr([str(src), "--out", str(out), "--pipeline", str(tiny_pipeline), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert {r["id"] for r in _manifest(out)} == {"a", "old"}  # only what this run writes is replaced


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_sr_read_only_out_is_refused_before_any_work(tiny_pipeline, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        res = CliRunner().invoke(main, ["sr", str(_png(tmp_path / "a.png", 0)), "--out", str(out / "sub"),
                                        "--pipeline", str(tiny_pipeline)])
    finally:
        out.chmod(0o755)
    assert res.exit_code == 2 and "cannot write" in res.output


def test_sr_bad_files_between_good_ones(tiny_pipeline, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "a.png", 0)
    _bomb_png(folder / "b_bomb.png")
    (folder / "c_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    _png(folder / "d.png", 1)
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["sr", str(folder), "--out", str(out), "--pipeline", str(tiny_pipeline)])
    assert res.exit_code == 2
    errors = [line for line in res.output.splitlines() if line.startswith("zoo: error:")]
    assert len(errors) == 2 and "b_bomb.png" in errors[0] + errors[1] and "c_corrupt.png" in errors[0] + errors[1]
    assert "Traceback" not in res.output
    assert [r["id"] for r in _manifest(out)] == ["a", "d"]
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "d.png", "manifest.csv"]


# resume -------------------------------------------------------------------------------------------
def _check_complete(out: Path, ids: list[str]) -> None:
    from zoo.data.readers import read_image

    rows = _manifest(out)
    assert sorted(r["id"] for r in rows) == sorted(ids)  # each once, none missing
    for r in rows:
        path = out / r["output"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == r["sha256"]
        assert read_image(path).array.shape == (64, 64)
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{i}.png" for i in ids)
    assert not list(out.glob(".*"))  # no temporary files or manifest parts left


def test_sr_killed_then_resumed_completes_every_output_once(tiny_pipeline, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    ids = [f"s{i:02d}" for i in range(24)]
    for i, name in enumerate(ids):
        _png(folder / f"{name}.png", i)
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "zoo", "sr", str(folder), "--out", str(out), "--pipeline", str(tiny_pipeline),
           "--device", "cpu", "--steps", "4"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("s*.png"))) < 3 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = sorted(p.name for p in out.glob("s*.png"))
    assert 0 < len(done_before) < len(ids), "the run was not killed mid-way"
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("s*.png")}
    # without --resume the folder is refused; with it, only the missing outputs are done
    refused = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    res = subprocess.run([*cmd, "--resume"], env=_env(), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    _check_complete(out, ids)
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("s*.png") if p.name in mtimes}
    assert kept == mtimes  # complete outputs were skipped, not written again


def test_sr_resume_redoes_an_output_that_is_not_complete(tiny_pipeline, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        _png(folder / f"s{i}.png", i)
    out = tmp_path / "o"
    assert _sr([str(folder), "--out", str(out), "--pipeline", str(tiny_pipeline)]).exit_code == 0
    good = (out / "s1.png").read_bytes()
    (out / "s1.png").write_bytes(good[: len(good) // 2])  # truncated: present but not complete
    (out / "s2.png").unlink()
    res = _sr([str(folder), "--out", str(out), "--pipeline", str(tiny_pipeline), "--resume"])
    assert res.exit_code == 0, res.output
    assert "skipped 1 complete" in res.output
    assert (out / "s1.png").read_bytes() == good
    _check_complete(out, ["s0", "s1", "s2"])


@pytest.mark.slow
def test_sr_under_accelerate_with_two_cpu_processes_writes_every_file_once(tiny_pipeline, tmp_path):
    pytest.importorskip("accelerate")
    folder = tmp_path / "in"
    folder.mkdir()
    ids = [f"s{i:02d}" for i in range(7)]
    for i, name in enumerate(ids):
        _png(folder / f"{name}.png", i)
    out = tmp_path / "o"
    # on a CPU-only machine accelerate starts several processes (gloo, MULTI_CPU) only through its
    # multi-process launcher: `--cpu` alone runs one process whatever --num_processes says
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "zoo", "sr",
              str(folder), "--out", str(out), "--pipeline", str(tiny_pipeline), "--device", "cpu"]
    res = subprocess.run(launch, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "wrote all file(s)" in res.stdout  # the message of a run split between processes
    _check_complete(out, ids)
    # resumed under two processes again: nothing to do, the manifest stays whole
    first = (out / "manifest.csv").read_text()
    res = subprocess.run([*launch, "--resume"], env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (out / "manifest.csv").read_text() == first


def test_sr_files_library_api_without_the_cli(tiny_pipeline, tmp_path):
    import zoo
    from zoo.data.sr_files import SROptions, check_outputs, plan_jobs, run_jobs

    src = _png(tmp_path / "a.png", 0)
    jobs, errors = plan_jobs([str(src)], tmp_path / "o")
    assert not errors and jobs[0].output == tmp_path / "o" / "a.png"
    check_outputs(jobs, tmp_path / "o", [str(src)])
    pipe = zoo.load_pipeline(tiny_pipeline)
    result = run_jobs(pipe, jobs, tmp_path / "o", SROptions(tile=32))
    assert [j.ident for j in result.written] == ["a"] and not result.failed
    assert copy.copy(_manifest(tmp_path / "o"))[0]["output"] == "a.png"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_sr_tiled_on_export_backends_matches_torch(backend, tiny_pipeline, tmp_path, monkeypatch):
    """Export runtimes (dynamic H/W) run the tiles: same result as torch within the backend's precision."""
    import tempfile

    pytest.importorskip(backend)
    from zoo.data.readers import read_image

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the backend's export cache
    src = _png(tmp_path / "a.png", 0, size=40)  # HR 160 in tiles of 64
    outs = {}
    for name in ("torch", backend):
        res = _sr([str(src), "--out", str(tmp_path / name), "--pipeline", str(tiny_pipeline), "--backend", name,
                   "--tile", "64"])
        assert res.exit_code == 0, res.output
        outs[name] = read_image(tmp_path / name / "a.png").array.astype(float)
    assert outs["torch"].shape == outs[backend].shape == (160, 160)
    tolerance = 1e-3 if backend == "onnxruntime" else 0.03  # openvino: bf16 where the CPU has it
    assert np.abs(outs["torch"] - outs[backend]).mean() < tolerance * 65535


@pytest.mark.parametrize(("tile", "message"), [("huge", "auto, off"), ("4", "at least")])
def test_sr_bad_tile_option_is_one_line_before_any_work(tile, message, tiny_pipeline, tmp_path):
    res = CliRunner().invoke(main, ["sr", str(_png(tmp_path / "a.png", 0)), "--out", str(tmp_path / "o"),
                                    "--pipeline", str(tiny_pipeline), "--tile", tile])
    assert res.exit_code == 2 and message in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "a.png").exists()


# self-ensemble ------------------------------------------------------------------------------------


def test_sr_self_ensemble_option_reaches_the_pipeline(tmp_path):
    """The embedded default combines 8 flips/rotations; --self-ensemble 1 is one run, a different image."""
    from zoo.data.readers import read_image
    from zoo.evaluate.heldout import held_out

    lr = held_out("test")[0].lr
    outs = {}
    for count in (None, "1"):
        out = tmp_path / f"out-{count}"
        extra = [] if count is None else ["--self-ensemble", count]
        assert _sr([str(lr), "--out", str(out), *extra]).exit_code == 0
        outs[count] = read_image(out / lr.name).array
    assert outs[None].shape == outs["1"].shape == (256, 256) and not np.array_equal(outs[None], outs["1"])
    res = CliRunner().invoke(main, ["sr", str(lr), "--out", str(tmp_path / "bad"), "--self-ensemble", "3"])
    assert res.exit_code == 2 and "--self-ensemble" in res.output
