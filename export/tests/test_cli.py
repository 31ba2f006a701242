"""The zoo-export command line: default command, errors with exit code 2, info and validate."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner
from export_helpers import SMALL_DENOISER, small_vae_config
from zoo_export.cli import main


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_trt_without_cuda_exits_2_cleanly(tmp_path) -> None:
    out = tmp_path / "trt"
    cmd = [sys.executable, "-m", "zoo_export", "--vae", "medvae", "--untrained", "--backend", "trt", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr  # not 139 / -11 (segfault)
    assert "CUDA" in proc.stderr and "--backend onnx" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_help_lists_subcommands_and_default_export() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    assert all(cmd in result.output for cmd in ("export", "info", "validate"))
    plain = runner.invoke(main, ["--vae", "medvae", "--help"])  # no subcommand: export's help
    assert plain.exit_code == 0 and "--backend" in plain.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vae", "medvae", "--batch", "4:2:1"], "MIN:OPT:MAX"),
        (["--vae", "no-such-vae", "--untrained"], "no-such-vae"),
        (["--untrained"], "--vae NAME or --pipeline DIR"),
        (["--vae", "medvae", "--vae-config", "{bad"], "not valid JSON"),
    ],
)
def test_bad_input_exits_2(args, message, tmp_path) -> None:
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_default_vae_weights_unavailable_is_a_clear_error(tmp_path) -> None:
    result = CliRunner().invoke(main, ["--vae", "kl-f4", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no default weights" in result.output


@pytest.mark.slow
def test_info_and_validate(exported) -> None:
    _, root = exported
    runner = CliRunner()
    info = runner.invoke(main, ["info", str(root)])
    assert info.exit_code == 0, info.output
    assert "encoder" in info.output and "denoiser" in info.output and "status: ok" in info.output
    data = json.loads(runner.invoke(main, ["info", str(root), "--json"]).output)
    assert set(data["stages"]) == {"encoder", "denoiser", "decoder"} and data["source"]["vae"] == "medvae-4-3"
    valid = runner.invoke(main, ["validate", str(root), "--json"])
    assert valid.exit_code == 0, valid.output
    report = json.loads(valid.output)
    assert report["ok"] and "batch 3" in report["checks"]["denoiser onnx (fp32)"]


def test_info_on_a_non_export_folder(tmp_path) -> None:
    result = CliRunner().invoke(main, ["info", str(tmp_path)])
    assert result.exit_code == 2 and "manifest.json" in result.output


@pytest.mark.slow
def test_cli_export_from_names_marks_untrained_weights(tmp_path) -> None:
    out = tmp_path / "cli"
    args = ["--vae", "medvae-4-1", "--untrained", "--size", "32", "--scale", "2", "--static-size", "--batch", "1:2:4",
            "--vae-config", json.dumps(small_vae_config("medvae-4-1")), "--denoiser-config", json.dumps(SMALL_DENOISER),
            "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "status: ok" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["vae_weights"] == "untrained" and manifest["source"]["denoiser_weights"] == "untrained"
    assert manifest["batch"] == {"min": 1, "opt": 2, "max": 4}
    assert manifest["stages"]["encoder"]["inputs"][0]["shape"] == ["batch", 1, 16, 16]  # --static-size
    assert (out / "pipeline.json").is_file()
