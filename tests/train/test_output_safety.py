"""`zoo train` never destroys an earlier run; bad options are one line before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli_checks import one_error_line
from tests.train.helpers import tiny_autoencoder_config
from zoo.cli import main
from zoo.train.checkpoint import checkpoint_path


def _train(config: Path, *args: str):
    return CliRunner().invoke(main, ["train", "--config", str(config), "--no-progress", *args])


def _snapshot(run: Path) -> dict[str, bytes]:
    files = [checkpoint_path(run) / n for n in ("model.safetensors", "state.json")] + [run / "logs" / "metrics.csv"]
    return {str(f): f.read_bytes() for f in files}


def test_a_second_run_without_resume_keeps_the_first(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = tmp_path / "c.json"
    config.write_text(json.dumps(tiny_autoencoder_config(prepared, run, max_steps=2)))
    assert _train(config).exit_code == 0
    first = _snapshot(run)
    (run / "notes.txt").write_text("mine")
    one_error_line(_train(config, "--set", "optim.max_steps=1"), "earlier run", "--resume", "--overwrite")
    assert _snapshot(run) == first
    # --overwrite starts over: the run's own checkpoint and logs are new, other files stay
    res = _train(config, "--overwrite", "--set", "optim.lr=0.002")
    assert res.exit_code == 0, res.output
    assert (run / "notes.txt").read_text() == "mine"
    assert _snapshot(run)[str(run / "logs" / "metrics.csv")].decode().count("\n2,loss,") == 1
    assert json.loads((checkpoint_path(run) / "state.json").read_text())["config"]["optim"]["lr"] == 0.002
    one_error_line(_train(config, "--resume", "--overwrite"), "exclude each other")


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("optim.max_steps=ten", ["optim.max_steps", "expected an integer", "'ten'"]),
        ("max_steps=ten", ["optim.max_steps", "'ten'"]),
        ("optim.max_steps=-5", ["optim.max_steps must be >= 1", "-5"]),
        ("optim.lr=fast", ["optim.lr", "expected a number"]),
        ("data.flips=3", ["data.flips", "true or false"]),
        ("optim.betas=[0.9]", ["optim.betas", "2 numbers"]),
        ("no_such_key=1", ["no_such_key", "unknown key"]),
    ],
)
def test_bad_set_values_are_one_line_before_any_work(tmp_path: Path, setting: str, words: list[str]) -> None:
    config = tmp_path / "c.json"
    # data.root does not exist: the option is refused before any data is looked at
    config.write_text(json.dumps(tiny_autoencoder_config(tmp_path / "no-data", tmp_path / "run")))
    one_error_line(_train(config, "--set", setting), *words)
    assert not (tmp_path / "run").exists()


def test_run_folder_under_a_file_is_refused_before_training(prepared: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    config = tmp_path / "c.json"
    config.write_text(json.dumps(tiny_autoencoder_config(prepared, tmp_path / "file" / "run")))
    one_error_line(_train(config), "is a file")


def test_old_output_spelling_and_quiet_in_a_real_run(prepared: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps(tiny_autoencoder_config(prepared, tmp_path / "unused", max_steps=2)))
    old = CliRunner().invoke(main, ["train", "--config", str(config), "--output", str(tmp_path / "old"), "--resume"])
    assert old.exit_code == 0, old.output
    assert (tmp_path / "old" / "autoencoder" / "zoo_autoencoder.json").exists()
    assert f"no checkpoint in {tmp_path / 'old'}; starting from step 0" in old.stderr  # INFO by default
    assert "train:" not in old.stderr  # no progress bar: stderr is not a terminal (issue #26)
    quiet = CliRunner().invoke(main, ["-q", "train", "--config", str(config), "--out", str(tmp_path / "new"),
                                      "--resume"])
    assert quiet.exit_code == 0, quiet.output
    assert (tmp_path / "new" / "autoencoder" / "zoo_autoencoder.json").exists()
    assert quiet.stderr == "" and f"result in {tmp_path / 'new' / 'autoencoder'}" in quiet.stdout
    assert not (tmp_path / "unused").exists()
