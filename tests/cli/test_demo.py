"""``zoo demo``: the embedded default on the bundled held-out samples writes a figure and a report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from zoo.cli import main


def test_demo_with_the_embedded_default(tmp_path: Path) -> None:
    from zoo.assets import DEFAULT_PIPELINE_DIR, ZOO_DEMO_F4, ZOO_S2D_F4, asset_path

    assert (DEFAULT_PIPELINE_DIR / "zoo_pipeline.json").exists(), "embedded default missing: run `make weights`"
    assert asset_path(ZOO_DEMO_F4.weights.removeprefix("zoo-asset:")).exists()
    assert asset_path(ZOO_S2D_F4.weights.removeprefix("zoo-asset:")).exists()  # the default's first stage
    res = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "bicubic" in res.output and str(tmp_path / "demo" / "report.md") in res.output
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "| zoo (embedded default) |" in report and "| bicubic (PIL) |" in report
    png = (tmp_path / "demo" / "demo.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    with (tmp_path / "demo" / "metrics.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    from zoo.data.manifest import filter_split, read_manifest
    from zoo.data.samples import prepared_samples

    held_out = {r.id for r in filter_split(read_manifest(prepared_samples()), "test")}
    assert {r["id"] for r in rows} == held_out
    assert all(10 < float(r["psnr_zoo"]) < 60 and 10 < float(r["psnr_bicubic"]) < 60 for r in rows)
    # the default's self-ensemble gives an uncertainty map: a figure column and its calibration figures
    assert "/ uncertainty map" in report and "Uncertainty map (expected |zoo - HR| per pixel" in report
    assert all(float(r["map_ratio"]) > 0 and float(r["map_lift"]) > 1 for r in rows)


def test_demo_json_with_another_pipeline(tiny_pipeline: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["demo", "--pipeline", str(tiny_pipeline), "--split", "val", "--json",
                                    "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["split"] == "val" and summary["n"] > 0 and summary["pipeline"] == str(tiny_pipeline)
    assert summary["psnr_bicubic"] > 15
