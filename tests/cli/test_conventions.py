"""Options every command spells the same way: --out (old spellings still work), --device auto, -v/-q."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner
from zoo_export.cli import main as export_main

from zoo.cli import COMMANDS, main
from zoo.utils.devices import DEVICE_HELP, DeviceError, resolve_device

# command path -> (arguments that make a valid command line without --out, the parameter --out fills)
WRITERS = {
    ("sr",): (["scan.png"], "out_dir"),
    ("eval",): ([], "out"),
    ("eval", "compare"): ([".", "."], "out"),
    ("screen",): (["--data", ".", "--vae", "x"], "out"),
    ("prepare",): (["scans"], "out"),
    ("encode",): (["--data", ".", "--vae", "x"], "out"),
    ("train",): (["--config", "c.yaml"], "out"),
    ("bench",): ([], "out"),
    ("demo",): ([], "out_dir"),
    ("view",): ([], "out_dir"),
}
OLD_SPELLINGS = {("train",): ["--output"], ("prepare",): ["-o"], ("encode",): ["-o"]}
DEVICE_COMMANDS = [("sr",), ("eval",), ("screen",), ("encode",), ("train",), ("bench",), ("demo",), ("view",)]


def _command(path: tuple[str, ...]) -> click.Command:
    ctx = click.Context(main)
    cmd = main.get_command(ctx, path[0])
    for name in path[1:]:
        cmd = cmd.get_command(ctx, name)
    return cmd


def _parse(path: tuple[str, ...], args: list[str]) -> dict:
    return _command(path).make_context(" ".join(path), args, resilient_parsing=False).params


@pytest.mark.parametrize("path", list(WRITERS), ids=" ".join)
def test_every_writing_command_takes_out_and_o(path):
    args, param = WRITERS[path]
    assert str(_parse(path, [*args, "--out", "dest"])[param]) == "dest"
    assert str(_parse(path, [*args, "-o", "dest2"])[param]) == "dest2"
    assert "--out" in _command(path).get_help(click.Context(_command(path)))


@pytest.mark.parametrize("path", list(OLD_SPELLINGS), ids=" ".join)
def test_old_output_spellings_still_work(path):
    args, param = WRITERS[path]
    for old in OLD_SPELLINGS[path]:
        assert str(_parse(path, [*args, old, "old-dest"])[param]) == "old-dest"


def test_hidden_aliases_stay_out_of_help_and_errors():
    train = _command(("train",))
    text = train.get_help(click.Context(train))
    assert "--output" not in text and "-o, --out" in text
    res = CliRunner().invoke(main, ["sr", "scan.png"])
    assert res.exit_code == 2 and "'--out'" in res.output and "--output" not in res.output


def test_zoo_export_takes_out_and_o():
    export = export_main.commands["export"]
    assert str(export.make_context("export", ["--vae", "x", "-o", "dest"]).params["out"]) == "dest"
    assert str(export.make_context("export", ["--vae", "x", "--out", "dest"]).params["out"]) == "dest"


def test_every_command_listed_is_checked():
    assert {p[0] for p in WRITERS} | {"list", "info", "env"} == set(COMMANDS)


@pytest.mark.parametrize("path", DEVICE_COMMANDS, ids=" ".join)
def test_device_default_and_help_are_the_same_everywhere(path):
    (option,) = [p for p in _command(path).params if p.name == "device"]
    assert option.default == "auto" and option.help == DEVICE_HELP


def test_resolve_device():
    assert resolve_device("auto") == resolve_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(DeviceError, match="expected auto, cpu, cuda or cuda:N"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda:1")


def test_bad_device_is_one_line():
    res = CliRunner().invoke(main, ["demo", "--device", "gpu0"])
    assert res.exit_code == 2 and res.stderr.startswith("zoo: error: device 'gpu0'") and "Traceback" not in res.output


@pytest.mark.parametrize("cli", [main, export_main], ids=["zoo", "zoo-export"])
def test_verbosity_sets_zoo_loggers_anywhere_on_the_line(cli):
    runner = CliRunner()
    for args, level in [([], logging.INFO), (["-v"], logging.DEBUG), (["-q"], logging.WARNING)]:
        for line in ([*args, "info", "missing-folder"], ["info", "missing-folder", *args]):
            runner.invoke(cli, line)
            assert logging.getLogger("zoo").level == logging.getLogger("zoo_export").level == level, line
    res = runner.invoke(cli, ["-v", "info", "x", "-q"])
    assert res.exit_code == 2 and "exclude each other" in res.output


def test_zoo_export_default_command_after_verbosity(tmp_path: Path):
    res = CliRunner().invoke(export_main, ["-q", "--vae", "x", "--weights", str(tmp_path), "--untrained",
                                           "--out", str(tmp_path / "e")])
    assert res.exit_code == 2 and "--weights and --untrained are mutually exclusive" in res.stderr


def test_v_shows_debug_messages_and_q_hides_info(tiny_pipeline: Path, inputs: dict[str, Path], tmp_path: Path):
    runner = CliRunner()
    base = ["sr", str(inputs["png8"]), "--pipeline", str(tiny_pipeline), "--device", "auto"]
    loud = runner.invoke(main, ["-v", *base, "--out", str(tmp_path / "a")])
    assert loud.exit_code == 0, loud.output
    assert "zoo: debug: zoo.utils.devices: device auto -> " in loud.stderr
    assert f"to {tmp_path / 'a'}" in loud.stdout  # the result stays on stdout
    quiet = runner.invoke(main, [*base, "-q", "--out", str(tmp_path / "b")])
    assert quiet.exit_code == 0 and quiet.stderr == "" and f"to {tmp_path / 'b'}" in quiet.stdout
