"""issue #26: the CLI's error rules (options once, bad files vs bugs), progress bars, and the output-folder lock."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.cli_checks import one_error_line
from zoo.cli import COMMANDS, main


def _sr(*args: str):
    return CliRunner().invoke(main, ["sr", *args])


def _png(path: Path, seed: int = 0) -> Path:
    from zoo.data.writers import write_png

    write_png(path, (np.random.default_rng(seed).random((12, 16)) * 255).astype(np.uint8), bits=8)
    return path


# options are checked once, before any file: one line, exit 2, nothing written ----------------------------
@pytest.mark.parametrize("bad", [["--sampler", "ddim2"], ["--self-ensemble", "3"], ["--batch-size", "0"],
                                 ["--tile", "big"], ["--steps", "0"], ["--no-such-option"]], ids=" ".join)
def test_sr_mistyped_option_is_one_line_and_writes_nothing(bad, inputs, tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    res = _sr(str(inputs["png8"]), str(inputs["png16"]), "--out", str(out), "--pipeline", str(tiny_pipeline), *bad)
    one_error_line(res, bad[0])
    assert not out.exists()
    fixed = _sr(str(inputs["png8"]), "--out", str(out), "--pipeline", str(tiny_pipeline))
    assert fixed.exit_code == 0, fixed.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_reports_a_mistyped_option_in_one_line(command, tmp_path):
    res = CliRunner().invoke(main, [command, "--no-such-option", "--out", str(tmp_path / "o")])
    one_error_line(res, "--no-such-option")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["bench", "--steps", "0"], ["bench", "--batch", "0"], ["bench", "--runs", "0"],
                                  ["encode", "--data", ".", "--vae", "x", "--batch-size", "0"],
                                  ["demo", "--split", "nope"]], ids=" ".join)
def test_out_of_range_values_are_refused_before_any_work(args, tmp_path):
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
    one_error_line(res, args[-2])
    assert not (tmp_path / "o").exists()


def test_group_option_typo_is_one_line():
    one_error_line(CliRunner().invoke(main, ["--no-such-option", "list"]), "--no-such-option")


def test_a_run_where_every_file_failed_does_not_block_the_rerun(inputs, tiny_pipeline, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    out = tmp_path / "out"
    res = _sr(str(bad), "--out", str(out), "--pipeline", str(tiny_pipeline))
    assert res.exit_code == 2 and str(bad) in res.stderr and "nothing written" in res.stderr
    assert not out.exists()  # no manifest.csv, and not even the folder
    res = _sr(str(inputs["png8"]), "--out", str(out), "--pipeline", str(tiny_pipeline))
    assert res.exit_code == 0, res.output
    assert (out / "gray8.png").is_file()


def test_an_empty_manifest_left_by_an_older_run_does_not_block(inputs, tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.csv").write_text("id,input,output,sha256\n")
    res = _sr(str(inputs["png8"]), "--out", str(out), "--pipeline", str(tiny_pipeline))
    assert res.exit_code == 0, res.output
    assert "gray8" in (out / "manifest.csv").read_text()


# a bad file is one line; a bug inside zoo stops the batch with its traceback ------------------------------
@pytest.fixture
def bug_sampler(monkeypatch: pytest.MonkeyPatch):
    """The sampler of tests/fixtures/bug_sampler.py, registered for this test only."""
    from tests.fixtures import bug_sampler
    from zoo import registry

    monkeypatch.setitem(registry._local, "sampler", list(registry._local["sampler"]))
    registry.register(bug_sampler.CARD)
    bug_sampler.CALLS.clear()
    return bug_sampler


def test_a_bug_inside_the_pipeline_stops_the_batch_with_its_traceback(bug_sampler, inputs, tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    res = _sr(str(inputs["png8"]), str(inputs["png16"]), "--out", str(out), "--pipeline", str(tiny_pipeline),
              "--sampler", "test-bug-sampler", "--self-ensemble", "1")
    assert res.exit_code == 1, res.output
    assert "Traceback" in res.stderr and "RuntimeError: injected bug in test-bug-sampler" in res.stderr
    assert "while super-resolving" in res.stderr  # the file it stopped at
    assert res.stderr.strip().splitlines()[-1].startswith("zoo: error: unexpected error")
    assert "bug in zoo" in res.stderr
    assert len(bug_sampler.CALLS) == 1  # the batch stopped at the first file
    assert not any(line.startswith(f"zoo: error: {inputs['png8']}") for line in res.stderr.splitlines())


def test_bad_files_stay_one_line_and_the_batch_goes_on(inputs, tiny_pipeline, tmp_path):
    bad = tmp_path / "truncated.nii.gz"
    bad.write_bytes(inputs["nifti"].read_bytes()[:200])
    res = _sr(str(bad), str(inputs["png8"]), "--out", str(tmp_path / "o"), "--pipeline", str(tiny_pipeline))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert [line for line in res.stderr.splitlines() if line.startswith("zoo: error:")][0].startswith(
        f"zoo: error: {bad}: ")
    assert (tmp_path / "o" / "gray8.png").is_file()


# progress --------------------------------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_only_on_a_terminal_and_not_under_q(monkeypatch):
    from zoo.utils.console import show_progress
    from zoo.utils.verbosity import configure_logging

    configure_logging()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not show_progress()
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert show_progress()
    configure_logging(quiet=True)
    assert not show_progress()
    configure_logging()


def test_zoo_train_into_a_log_file_writes_no_bars(tmp_path):
    from tests.train.helpers import make_prepared, tiny_autoencoder_config

    prepared = make_prepared(tmp_path / "prepared", n_train=2, n_val=1, size=32, scale=4)
    config = tmp_path / "c.json"
    config.write_text(json.dumps(tiny_autoencoder_config(prepared, tmp_path / "run", max_steps=2)))
    res = CliRunner().invoke(main, ["train", "--config", str(config)])  # stderr is not a terminal
    assert res.exit_code == 0, res.output
    assert "it/s" not in res.stderr and "s/it" not in res.stderr and "\r" not in res.stderr


def test_progress_advances_within_one_file(tiny_pipeline, tmp_path, capsys):
    import nibabel as nib

    import zoo
    from zoo.data.sr_files import SROptions, super_resolve_file

    src = tmp_path / "vol.nii.gz"
    volume = (np.random.default_rng(0).random((12, 16, 3)) * 1000).astype(np.int16)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), src)
    pipe = zoo.load_pipeline(tiny_pipeline, device="cpu")
    super_resolve_file(pipe, src, tmp_path / "sr.nii.gz", SROptions(batch_size=1, self_ensemble=1, progress=True))
    err = capsys.readouterr().err
    assert "vol.nii.gz" in err and "1/3" in err and "2/3" in err  # the file's slices
    assert "ddim" in err  # each SR pass's sampler steps


# the output folder is locked by the run writing it ---------------------------------------------------------
HOLD = "import sys\nfrom zoo.folders.guard import lock_output\nlock_output(sys.argv[1])\n" \
       "print('locked', flush=True)\n" \
       "sys.stdin.read()\n"


@pytest.fixture
def other_run(tmp_path):
    """Another process holding the lock of ``tmp_path / 'out'`` (as a running ``zoo`` command does)."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield out, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_a_second_run_into_a_locked_folder_fails_in_one_line(other_run, inputs, tiny_pipeline, tmp_path):
    out, proc = other_run
    res = _sr(str(inputs["png8"]), "--out", str(out), "--pipeline", str(tiny_pipeline))
    one_error_line(res, str(out), f"pid {proc.pid}", "another zoo run")
    assert sorted(p.name for p in out.iterdir()) == [".zoo-lock"]
    scans = tmp_path / "scans"
    scans.mkdir()
    _png(scans / "a.png")
    one_error_line(CliRunner().invoke(main, ["prepare", str(scans), "--out", str(out)]), f"pid {proc.pid}")
    # killed without a chance to clean up: the OS released its lock, the left lock file does not block
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    res = _sr(str(inputs["png8"]), "--out", str(out), "--pipeline", str(tiny_pipeline))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["gray8.png", "manifest.csv"]


@pytest.mark.slow  # two interpreters loading torch: ~40 s on 2 shared cores
def test_two_real_zoo_sr_processes_into_one_folder(inputs, tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    scans = tmp_path / "scans"
    scans.mkdir()
    for i in range(6):
        _png(scans / f"s{i}.png", i)
    cmd = [sys.executable, "-m", "zoo", "sr", str(scans), "--out", str(out), "--pipeline", str(tiny_pipeline)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    locked = [err for _, err in results if "another zoo run" in err]
    # either one ran while the other held the lock (refused in one line), or they ran one after the other
    # (the second refused: the first's outputs are there); never both writing
    assert codes == [0, 2], results
    (refusal,) = [err for code, err in results if code == 2]
    assert len(refusal.strip().splitlines()) == 1 and (locked or "already holds" in refusal)
    from zoo.data.sr_files import read_manifest_rows
    from zoo.weights import sha256_file

    rows = read_manifest_rows(out / "manifest.csv")
    assert len(rows) == 6 and all(sha256_file(out / r["output"]) == r["sha256"] for r in rows.values())


def test_prepare_output_locks_only_inside_a_command_run(tmp_path):
    from zoo.folders.guard import LOCK_FILE, locking, prepare_output

    out = tmp_path / "new"
    prepare_output(out)  # a plain library call creates nothing
    assert not out.exists()
    with locking():
        prepare_output(out)
        prepare_output(out)  # the lock this process holds is taken again
        assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())
    assert not out.exists()  # the run wrote nothing: the folder it created is gone again
