"""`zoo eval`, `zoo eval compare` and `zoo screen` never destroy data; `zoo eval --split`."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from tests.cli_checks import one_error_line
from zoo.cli import main

from .helpers import make_dataset, save_png16, smooth_image, write_manifest


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _eval(pred, ref, out, *extra):
    return CliRunner().invoke(main, ["eval", "--pred", str(pred), "--ref", str(ref), "--out", str(out),
                                     "--no-figures", *extra])


def test_eval_never_writes_over_its_inputs(tmp_path):
    pred, ref = make_dataset(tmp_path, n=3)
    before = _files(pred), _files(ref)
    for flags in ([], ["--overwrite"]):
        one_error_line(_eval(pred, ref, pred, *flags), "is also an input")
        one_error_line(_eval(pred, ref, ref, *flags), "is also an input")
    assert (_files(pred), _files(ref)) == before


def test_eval_keeps_an_existing_folder_and_overwrite_replaces_only_the_report(tmp_path):
    pred, ref = make_dataset(tmp_path, n=3)
    out = tmp_path / "reports"
    out.mkdir()
    (out / "notes.md").write_text("my notes")
    (out / "report.md").write_text("an old report")
    one_error_line(_eval(pred, ref, out), "not empty", "--overwrite")
    assert _files(out) == {"notes.md": b"my notes", "report.md": b"an old report"}
    res = _eval(pred, ref, out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert (out / "notes.md").read_text() == "my notes"
    assert (out / "report.md").read_text() != "an old report"
    assert json.loads((out / "report.json").read_text())["n"] == 3


def test_compare_and_screen_keep_existing_folders(tmp_path, tiny_vaes):
    pred, ref = make_dataset(tmp_path, n=4)
    noisier, _ = make_dataset(tmp_path / "noisier", n=4, noise=0.1)
    assert _eval(pred, ref, tmp_path / "a").exit_code == 0
    assert _eval(noisier, ref, tmp_path / "b").exit_code == 0
    cmp = tmp_path / "cmp"
    cmp.mkdir()
    (cmp / "keep.txt").write_text("mine")
    args = ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--resamples", "100", "--out"]
    one_error_line(CliRunner().invoke(main, [*args, str(cmp)]), "not empty")
    one_error_line(CliRunner().invoke(main, [*args, str(tmp_path / "a"), "--overwrite"]), "is also an input")
    assert "compare.json" not in _files(tmp_path / "a")
    res = CliRunner().invoke(main, [*args, str(cmp), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (cmp / "keep.txt").read_text() == "mine" and (cmp / "compare.json").is_file()

    screen_out = tmp_path / "screen"
    screen_out.mkdir()
    (screen_out / "keep.txt").write_text("mine")
    args = ["screen", "--data", str(ref), "--vae", "evaltest-a", "--untrained", "--limit", "1", "--out"]
    one_error_line(CliRunner().invoke(main, [*args, str(screen_out)]), "not empty")
    one_error_line(CliRunner().invoke(main, [*args, str(ref), "--overwrite"]), "is also an input")
    res = CliRunner().invoke(main, [*args, str(screen_out), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (screen_out / "keep.txt").read_text() == "mine" and (screen_out / "screen.json").is_file()


def _prepared_with_splits(root):
    """A prepared-style folder with train/val/test ids, and SR outputs of its test split (`zoo sr --split test`)."""
    rng = np.random.default_rng(0)
    ref, pred = root / "data", root / "sr"
    rows, out_rows = [], []
    for i, split in enumerate(["train", "train", "val", "test", "test"]):
        ident = f"img_{i}"
        hr = smooth_image(rng, 32)
        save_png16(ref / "hr" / f"{ident}.png", hr)
        rows.append([ident, "x", "0", f"s{i}", split, f"hr/{ident}.png", ""])
        if split == "test":
            save_png16(pred / f"{ident}.png", hr * 0.9)
            out_rows.append([ident, f"lr/{ident}.png", f"{ident}.png"])
    write_manifest(ref, ["id", "source", "slice", "subject", "split", "hr", "lr"], rows)
    write_manifest(pred, ["id", "input", "output"], out_rows)
    return pred, ref


def test_eval_split_pairs_the_readme_tour(tmp_path):
    pred, ref = _prepared_with_splits(tmp_path)
    res = _eval(pred, ref, tmp_path / "auto")  # the README tour: zoo sr DATA --split test, then zoo eval
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "auto" / "report.json").read_text())
    assert report["n"] == 2 and report["pairing"]["split"] == "test"
    res = _eval(pred, ref, tmp_path / "test", "--split", "test")
    assert res.exit_code == 0, res.output
    one_error_line(_eval(pred, ref, tmp_path / "all", "--split", "all"), "missing")
    one_error_line(_eval(pred, ref, tmp_path / "val", "--split", "val"), "missing")
