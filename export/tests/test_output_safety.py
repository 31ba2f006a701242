"""zoo-export never destroys data it did not write; bad options and corrupt files are one line."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from export_helpers import SMALL_DENOISER, small_pipeline, small_vae_config
from zoo_export.cli import main
from zoo_export.exporter import export_pipeline
from zoo_export.options import ExportOptions, ExportSizeError, check_size

from tests.cli_checks import one_error_line

SMALL = ["--vae", "medvae-4-3", "--untrained", "--vae-config", json.dumps(small_vae_config("medvae-4-3")),
         "--denoiser-config", json.dumps(SMALL_DENOISER)]


def _export_error(res, *words: str) -> str:
    return one_error_line(res, *words, prog="zoo-export")


@pytest.mark.parametrize("size", ["4", "16", "40"])
def test_a_size_the_models_cannot_take_is_one_line_before_exporting(tmp_path, size) -> None:
    res = CliRunner().invoke(main, [*SMALL, "--size", size, "--out", str(tmp_path / "o")])
    _export_error(res, f"--size {size}", "multiple of", "e.g. --size")
    assert not (tmp_path / "o").exists()


def test_size_rule_matches_the_exporter() -> None:
    options = ExportOptions(size=32, scale=4)
    with pytest.raises(ExportSizeError, match="at least 64"):  # latent 8 = one multiple of 8: fixed by torch.export
        check_size(options, downsample_factor=4, size_multiple=8)
    check_size(ExportOptions(size=64, scale=4), downsample_factor=4, size_multiple=8)
    check_size(ExportOptions(size=32, scale=4, dynamic_size=False), downsample_factor=4, size_multiple=8)


def test_a_folder_that_is_not_an_export_is_never_replaced(tmp_path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "manifest.json").write_text('{"my": "data"}')
    (out / "notes.txt").write_text("mine")
    _export_error(CliRunner().invoke(main, [*SMALL, "--size", "32", "--out", str(out)]), "not empty", "--overwrite")
    assert (out / "manifest.json").read_text() == '{"my": "data"}' and (out / "notes.txt").read_text() == "mine"


@pytest.mark.slow  # a second real export (~40 s of CPU); atomic_dir's merge is covered fast in tests/foundation
def test_overwrite_replaces_only_the_exports_own_files(exported, tmp_path) -> None:
    from zoo_export.manifest import verify_export

    out = tmp_path / "copy"
    shutil.copytree(exported[1], out)
    (out / "notes.txt").write_text("mine")
    old = json.loads((out / "manifest.json").read_text())
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_pipeline(small_pipeline(), out, ExportOptions(size=32))
    assert json.loads((out / "manifest.json").read_text()) == old
    pipeline_dir = tmp_path / "pipe"
    exported[0].save_pretrained(pipeline_dir)
    with pytest.raises(OSError, match="is also an input"):
        export_pipeline(exported[0], pipeline_dir, ExportOptions(size=32), pipeline_dir=pipeline_dir, overwrite=True)
    export_pipeline(small_pipeline(), out, ExportOptions(size=32), overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    verify_export(out)


def test_truncated_weights_are_one_line(tmp_path) -> None:
    import torch
    from safetensors.torch import save_file

    weights = tmp_path / "vae.safetensors"
    save_file({"w": torch.zeros(32, 32)}, str(weights))
    weights.write_bytes(weights.read_bytes()[:60])
    res = CliRunner().invoke(main, ["--vae", "medvae-4-3", "--weights", str(weights), "--out", str(tmp_path / "o")])
    _export_error(res, str(weights))
    assert not (tmp_path / "o").exists()


def test_a_timing_cache_inside_the_pipeline_is_refused(tmp_path) -> None:
    pipeline = tmp_path / "pipe"
    small_pipeline().save_pretrained(pipeline)
    before = (pipeline / "zoo_pipeline.json").read_bytes()
    res = CliRunner().invoke(main, ["--pipeline", str(pipeline), "--backend", "trt", "--out", str(tmp_path / "o"),
                                    "--timing-cache", str(pipeline / "zoo_pipeline.json")])
    _export_error(res, "--timing-cache", "input")
    assert (pipeline / "zoo_pipeline.json").read_bytes() == before and not (tmp_path / "o").exists()
