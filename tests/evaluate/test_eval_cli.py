import json

import numpy as np
import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.evaluate.images import read_image
from zoo.evaluate.metrics import ms_ssim, psnr, ssim
from zoo.evaluate.stats import paired_comparison

from .helpers import make_dataset, save_png16


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    pred_a, ref = make_dataset(root / "a", n=6, seed=0, noise=0.03)
    pred_b, _ = make_dataset(root / "b", n=6, seed=0, noise=0.06)
    runner = CliRunner()
    runs = (("run_a", pred_a, ["--tau", "0.05"]), ("run_b", pred_b, ["--tau", "0.05", "--no-figures"]))
    for name, pred, extra in runs:
        res = runner.invoke(main, ["eval", "--pred", str(pred), "--ref", str(ref), "--out", str(root / name),
                                   "--vae", "sd-vae", *extra])
        assert res.exit_code == 0, res.output
    return root, pred_a, ref


def test_report_files_written_and_values_exact(runs):
    root, pred, ref = runs
    out = root / "run_a"
    for name in ("report.json", "report.md", "per_image.csv", "figures/distributions.png", "figures/bands.png",
                 "figures/bland_altman.png", "figures/spectrum.png", "figures/examples.png"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 6 and report["vae"] == "sd-vae" and report["protocol"] == "true-hr"
    per = {r["id"]: r for r in report["per_image"]}
    p, r = read_image(pred / "case_03.png"), read_image(ref / "hr" / "case_03.png")
    assert per["case_03"]["psnr"] == pytest.approx(psnr(p, r), abs=1e-12)
    assert per["case_03"]["ssim"] == pytest.approx(ssim(p, r), abs=1e-12)
    assert per["case_03"]["ms_ssim"] == pytest.approx(ms_ssim(p, r), abs=1e-12)
    values = [x["psnr"] for x in report["per_image"]]
    assert report["summary"]["psnr"]["mean"] == pytest.approx(np.mean(values))
    assert report["summary"]["psnr"]["std"] == pytest.approx(np.std(values))
    assert "hallu_rate" in report["summary"]


def test_compare_matches_paired_statistics(runs, tmp_path):
    root, _, _ = runs
    res = CliRunner().invoke(main, ["eval", "compare", str(root / "run_a"), str(root / "run_b"), "--json",
                                    "--out", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    a = {r["id"]: r["psnr"] for r in json.loads((root / "run_a" / "report.json").read_text())["per_image"]}
    b = {r["id"]: r["psnr"] for r in json.loads((root / "run_b" / "report.json").read_text())["per_image"]}
    ids = sorted(a)
    expected = paired_comparison([a[i] for i in ids], [b[i] for i in ids])
    assert out["mean_diff"] == pytest.approx(expected["mean_diff"])
    assert out["cohens_dz"] == pytest.approx(expected["cohens_dz"])
    assert out["wilcoxon"]["p"] == pytest.approx(expected["wilcoxon"]["p"])
    assert out["ci_mean_diff"]["low"] == pytest.approx(expected["ci_mean_diff"]["low"])
    assert "cohens_h" in out["hallucination"]
    for name in ("compare.json", "compare.md", "bland_altman.png"):
        assert (tmp_path / "cmp" / name).stat().st_size > 0


def test_compare_by_subject(runs):
    root, _, _ = runs
    res = CliRunner().invoke(main, ["eval", "compare", str(root / "run_a"), str(root / "run_b"), "--by", "subject",
                                    "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["n"] == 3


def test_id_mismatch_fails_cleanly_without_output(runs, tmp_path):
    root, pred, ref = runs
    partial = tmp_path / "partial"
    for i in range(4):
        save_png16(partial / f"case_{i:02d}.png", read_image(pred / f"case_{i:02d}.png"))
    res = CliRunner().invoke(main, ["eval", "--pred", str(partial), "--ref", str(ref), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "case_04, case_05" in res.output and "missing from pred" in res.output
    assert not (tmp_path / "r").exists()


def test_self_referential_protocol(runs, tmp_path, tiny_vaes):
    root, pred, ref = runs
    res = CliRunner().invoke(main, ["eval", "--pred", str(pred), "--ref", str(ref), "--out", str(tmp_path / "sr"),
                                    "--protocol", "self-referential", "--vae", "evaltest-a", "--untrained",
                                    "--limit", "2", "--no-figures", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "sr" / "report.json").read_text())
    true_hr = json.loads((root / "run_a" / "report.json").read_text())
    assert report["protocol"] == "self-referential" and report["n"] == 2
    # the reference is decode(encode(HR)), not HR, so the scores differ from the true-HR run
    assert report["per_image"][0]["psnr"] != pytest.approx(true_hr["per_image"][0]["psnr"], abs=1e-3)


def test_self_referential_needs_a_vae(runs, tmp_path):
    _, pred, ref = runs
    res = CliRunner().invoke(main, ["eval", "--pred", str(pred), "--ref", str(ref), "--out", str(tmp_path / "x"),
                                    "--protocol", "self-referential"])
    assert res.exit_code == 2 and "--vae" in res.output
