"""`zoo prepare` / `zoo encode` never destroy data; oversized and corrupt files are one-line, per-file errors."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.data.errors import DataError
from zoo.data.readers import read_image
from zoo.data.writers import write_png
from zoo.utils.env_vars import EnvVarError

TINY = ["--override", "block_out_channels=[8,8,8]", "--override", "layers_per_block=1",
        "--override", "norm_num_groups=4"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(path: Path, side: int = 100_000) -> Path:
    """A 100-byte PNG whose header declares side x side 8-bit gray pixels (10 G pixels)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
                     + _png_chunk(b"IEND", b""))
    return path


def huge_tiff(path: Path, side: int = 70_000) -> Path:
    """A zlib TIFF of a few hundred bytes whose tags declare side x side float32 (18 GiB for 70000)."""
    import tifffile

    tifffile.imwrite(path, np.zeros((16, 16), np.float32), compression="zlib", rowsperstrip=16, metadata=None)
    with tifffile.TiffFile(path) as tif:
        tags = [tif.pages[0].tags[n] for n in ("ImageWidth", "ImageLength", "RowsPerStrip")]
        where = [(t.valueoffset, int(t.dtype)) for t in tags]
    data = bytearray(path.read_bytes())
    for offset, dtype in where:
        assert dtype == 4  # LONG
        struct.pack_into("<I", data, offset, side)
    path.write_bytes(bytes(data))
    return path


def _good(path: Path) -> Path:
    write_png(path, (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8))
    return path


def test_bombs_are_refused_from_the_header_before_decoding(tmp_path):
    png, tif = bomb_png(tmp_path / "bomb.png"), huge_tiff(tmp_path / "huge.tif")
    assert png.stat().st_size < 200 and tif.stat().st_size < 1000
    for path, size in ((png, "100000 x 100000"), (tif, "70000 x 70000")):
        with pytest.raises(DataError, match="exceeds the limit of 268,435,456") as info:
            read_image(path)
        assert info.value.path == str(path) and size in info.value.reason and "ZOO_MAX_IMAGE_PIXELS" in str(info.value)
    npy = tmp_path / "big.npy"  # .npy: the header is read first, the array never
    with open(npy, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (20000, 20000)})
    with pytest.raises(DataError, match="20000 x 20000"):
        read_image(npy)


def test_image_size_cap_is_configurable(tmp_path, monkeypatch):
    good = _good(tmp_path / "good.png")
    monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(DataError, match="64 x 64 = 4,096 pixels exceeds the limit of 1,000"):
        read_image(good)
    import nibabel as nib

    vol = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 8), np.float32), np.eye(4)), vol)
    with pytest.raises(DataError, match="volume of 16 x 16 x 8"):
        read_image(vol)
    monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", "0")  # no cap
    assert read_image(good).array.shape == (64, 64)
    monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(EnvVarError, match="ZOO_MAX_IMAGE_PIXELS='lots'"):
        read_image(good)


def _zoo(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _one_line(proc, *words: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error:"), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_prepare_reports_a_bomb_in_one_line_or_skips_it(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _good(src / "a.png")
    bomb = bomb_png(src / "b.png")
    huge = huge_tiff(src / "c.tif")
    _good(src / "d.png")
    _one_line(_zoo("prepare", str(src), "--out", str(tmp_path / "out"), "--size", "64"), str(bomb), "exceeds")
    assert not (tmp_path / "out").exists()
    proc = _zoo("prepare", str(src), "--out", str(tmp_path / "out"), "--size", "64", "--skip-bad")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads((tmp_path / "out" / "prepare.json").read_text())
    assert sorted(s["file"] for s in summary["skipped"]) == [str(bomb), str(huge)]
    assert summary["counts"]["train"] + summary["counts"]["val"] + summary["counts"]["test"] == 2


def test_prepare_keeps_existing_data_and_overwrite_replaces_only_its_own(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _good(src / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    res = CliRunner().invoke(main, ["prepare", str(src), "--out", str(out), "--size", "64"])
    assert res.exit_code == 2 and "not empty" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    res = CliRunner().invoke(main, ["prepare", str(src), "--out", str(out), "--size", "64", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (out / "notes.txt").read_text() == "mine" and (out / "hr" / "a.png").is_file()
    # a source folder is never an output, even with --overwrite
    res = CliRunner().invoke(main, ["prepare", str(src), "--out", str(src), "--size", "64", "--overwrite"])
    assert res.exit_code == 2 and "is also an input" in res.stderr
    assert sorted(p.name for p in src.iterdir()) == ["a.png"]


def test_out_under_a_file_fails_before_any_work(tmp_path):
    _good(tmp_path / "a.png")
    proc = _zoo("prepare", str(tmp_path / "a.png"), "--out", str(tmp_path / "a.png" / "out"), "--size", "64")
    _one_line(proc, "a.png is a file")


def test_encode_keeps_a_folder_that_is_not_its_cache(tmp_path, tiny_prepared):
    out = tmp_path / "cache"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    vae = ["--vae", "kl-f4", "--untrained", *TINY]
    res = CliRunner().invoke(main, ["encode", "--data", str(tiny_prepared), "--out", str(out), *vae])
    assert res.exit_code == 2 and "not empty" in res.stderr, res.output
    res = CliRunner().invoke(main, ["encode", "--data", str(tiny_prepared), "--out", str(tiny_prepared), *vae,
                                    "--overwrite"])
    assert res.exit_code == 2 and "is also an input" in res.stderr, res.output
    assert not (tiny_prepared / "cache.json").exists()
    res = CliRunner().invoke(main, ["encode", "--data", str(tiny_prepared), "--out", str(out), *vae, "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (out / "notes.txt").read_text() == "mine" and (out / "cache.json").is_file()
    # a cache made with other settings: --overwrite replaces the cache's files, never the folder
    res = CliRunner().invoke(main, ["encode", "--data", str(tiny_prepared), "--out", str(out), "--vae", "kl-f4",
                                    "--untrained", *TINY[:-2], "--override", "norm_num_groups=2", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (out / "notes.txt").read_text() == "mine"


def test_truncated_files_are_one_line_errors_naming_the_file(tmp_path, small_cache, tiny_prepared):
    from zoo.data.encode import load_latents, shard_files

    shard = shard_files(small_cache)[0]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(DataError, match="corrupt or truncated latent shard") as info:
        load_latents(small_cache)
    assert info.value.path == str(shard)
    from safetensors.torch import save_file

    weights = tmp_path / "vae.safetensors"
    import torch

    save_file({"w": torch.zeros(64, 64)}, str(weights))
    weights.write_bytes(weights.read_bytes()[:100])
    proc = _zoo("encode", "--data", str(tiny_prepared), "--out", str(tmp_path / "c"), "--vae", "kl-f4",
                "--weights", str(weights))
    _one_line(proc, str(weights))
    assert not (tmp_path / "c").exists()


@pytest.fixture
def tiny_prepared(tmp_path):
    """Two bundled sample slices prepared at 64 -> 16."""
    from zoo.data.prepare import PrepareConfig, prepare
    from zoo.data.samples import sample_paths

    data = tmp_path / "data"
    prepare(sample_paths("slices", "mni152")[:2], data, PrepareConfig(size=64, scale=4, fractions=(1, 0, 0)))
    return data


@pytest.fixture
def small_cache(tmp_path, tiny_prepared):
    """A latent cache of two prepared images (tiny random VAE)."""
    import torch

    import zoo
    from zoo.data import encode_dataset

    data = tiny_prepared
    torch.manual_seed(0)
    vae = zoo.build_autoencoder("kl-f4", pretrained=False, block_out_channels=[8, 8, 8], layers_per_block=1,
                                norm_num_groups=4)
    encode_dataset(data, tmp_path / "cache", vae, "kl-f4", progress=False)
    return tmp_path / "cache"
