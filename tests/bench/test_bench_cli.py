"""``zoo bench --json`` produces the fields docs/bench.md documents (tiny configuration, no timing asserts)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import zoo
from tests.bench.conftest import TINY, lookup, run_bench
from zoo.bench.baseline import zoo_default_variant
from zoo.cli import main

STAGES = ("encode", "denoise", "decode")


def _check_documented(report: dict, paths: list[str], skip_prefixes: tuple[str, ...] = ()) -> None:
    ok = {**report, "results": [r for r in report["results"] if r["status"] == "ok"]}
    for path in paths:
        if path.startswith(skip_prefixes):
            continue
        source = ok if path.startswith("results[].stages") else report
        for stage in STAGES:
            try:
                lookup(source, path, stage)
            except (KeyError, TypeError) as err:
                raise AssertionError(f"documented field {path!r} (stage {stage}) missing from the report") from err


def test_json_has_documented_fields(tmp_path, doc_paths):
    report, markdown = run_bench(tmp_path, *TINY, "--backends", "torch,tensorrt")
    _check_documented(report, doc_paths, skip_prefixes=("baseline.", "quality.", "files."))
    assert report["schema"] == "zoo.bench/1"
    assert report["baseline"] is None and report["quality"] is None and report["files"] is None

    names = [r["backend"] for r in report["results"]]
    assert names == ["torch", "tensorrt"]
    torch_eager, trt = report["results"]
    assert trt["status"] == "skipped" and "CUDA" in trt["reason"] and trt["stages"] == {}
    for stage in (*STAGES, "end_to_end"):
        entry = torch_eager["stages"][stage]
        assert entry["runs"] == len(entry["times_ms"]) == 1
        assert entry["min_ms"] <= entry["median_ms"] <= entry["max_ms"]
        assert entry["speedup_vs_reference"] == 1.0
    assert torch_eager["stages"]["end_to_end"]["denoiser_evaluations"] == 2  # --steps 2, one call per ddim step

    g = report["geometry"]
    assert (g["lr_size"], g["hr_size"], g["encode_size"], g["latent_size"]) == (8, 32, 8, 8)
    assert all(report["flops"][s]["gflop"] > 0 for s in STAGES)
    e2e = report["flops"]["end_to_end"]["gflop"]
    parts = [report["flops"][s]["gflop"] for s in STAGES]
    assert e2e == pytest.approx(parts[0] + 2 * parts[1] + parts[2], rel=1e-3)
    assert report["machine"]["cores"] >= 1 and report["machine"]["versions"]["torch"]
    assert [t["name"].split(":")[0] for t in report["targets"]] == ["CPU"] * 4

    assert report["machine"]["cpu"] in markdown
    for section in ("## Machine", "## Latency", "## End to end", "## Targets", "## FLOPs"):
        assert section in markdown


def test_files_times_a_folder_through_the_file_loop(tmp_path, doc_paths):
    report, markdown = run_bench(tmp_path, *TINY, "--backends", "torch", "--files", "3")
    _check_documented(report, [p for p in doc_paths if p.startswith("files.")])
    f = report["files"]
    assert (f["backend"], f["files"], f["lr_size"], f["format"]) == ("torch", 3, 8, "png16")
    call = f["pipeline_call_ms_per_image"]
    assert call > 0 and f["one_file_ms"] > 0
    assert f["ratio_to_pipeline_call"] == pytest.approx(f["marginal_ms_per_image"] / call, rel=1e-2, abs=1e-3)
    assert f["images_per_s"] == pytest.approx(3 / f["seconds"], rel=1e-3)
    assert "## A folder through `zoo sr`'s file loop" in markdown
    assert not list(tmp_path.glob("zoo-bench-files-*"))


@pytest.mark.slow
def test_bf16_onnxruntime_and_baseline_fields(tmp_path, doc_paths):
    report, markdown = run_bench(tmp_path, *TINY, "--backends", "torch-bf16,onnxruntime", "--baseline",
                                 "--cache-dir", str(tmp_path / "exports"))
    _check_documented(report, doc_paths, skip_prefixes=("quality.", "files."))
    by_name = {r["backend"]: r for r in report["results"]}
    bf16, ort = by_name["torch-bf16"], by_name["onnxruntime"]
    assert bf16["status"] == "ok" and bf16["precision"] == "bf16", bf16["reason"]
    assert ort["backend"] == "onnxruntime" and ort["status"] == "ok", ort["reason"]
    assert ort["stages"]["denoise"]["speedup_vs_reference"] > 0

    base = report["baseline"]
    assert base["seed"]["extrapolated"] is True and base["seed"]["steps"] == 1000
    stages = report["results"][0]["stages"]
    expected = stages["encode"]["median_ms"] + 1000 * stages["denoise"]["median_ms"] + stages["decode"]["median_ms"]
    assert base["seed"]["ms_per_image"] == pytest.approx(expected, rel=1e-3)
    assert base["zoo"]["backend"] == zoo_default_variant("cpu").name  # openvino-bf16 where the CPU has bf16
    assert base["speedup"] == pytest.approx(base["seed"]["ms_per_image"] / base["zoo"]["ms_per_image"], rel=1e-2)
    assert "extrapolated" in markdown


@pytest.mark.slow
def test_openvino_variants_report_their_precision_and_validation(tmp_path, doc_paths):
    pytest.importorskip("openvino")
    import openvino

    report, markdown = run_bench(tmp_path, *TINY, "--backends", "openvino,openvino-bf16",
                                 "--cache-dir", str(tmp_path / "exports"))
    _check_documented(report, doc_paths, skip_prefixes=("baseline.", "quality.", "files."))
    fp32, bf16 = report["results"][1:]
    assert fp32["status"] == bf16["status"] == "ok", (fp32["reason"], bf16["reason"])
    native = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert fp32["precision"] == "fp32" and bf16["precision"] == ("bf16" if native else "fp32")
    for result in (fp32, bf16):
        check = result["validation"]
        assert check["passed"] and check["reference"].startswith("onnxruntime")
        assert set(check["stage_rel_diff"]) == {"encoder", "denoiser", "decoder"}
        assert check["end_to_end_delta_psnr_db"] <= check["end_to_end_tolerance_db"]
    assert max(fp32["validation"]["stage_rel_diff"].values()) <= 1e-4
    assert report["results"][0]["validation"] is None
    names = [t["name"] for t in report["targets"]]
    assert names[-1] == "CPU: openvino-bf16 end to end vs torch eager" and len(names) == 4
    assert "checked when built" in markdown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vae", "zoo-demo-f4"], "--untrained"),
        (["--vae", "zoo-demo-f4", "--untrained", "--backends", "no-such-backend"], "--backends"),
        (["--untrained"], "--vae"),
        (["--vae", "zoo-demo-f4", "--untrained", "--size", "30"], "--size 30"),
    ],
)
def test_bad_options_fail_cleanly(tmp_path, args, message):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", *args, "--runs", "1", "--json", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()


def test_out_writes_both_reports_and_keeps_an_earlier_one(tmp_path):
    out = tmp_path / "reports"
    args = ["bench", *TINY, "--backends", "torch", "--no-end-to-end"]
    first = CliRunner().invoke(main, [*args, "-q", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "bench.md"]
    assert f"zoo: wrote bench.json and bench.md to {out}" in first.stdout
    assert all(line.startswith("zoo: warning:") for line in first.stderr.splitlines())  # -q: no progress messages
    again = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.stderr


def test_report_files_never_replace_an_existing_file_or_an_input(tmp_path):
    import json

    from zoo.assets import DEFAULT_PIPELINE_DIR

    pipeline = tmp_path / "pipe"
    zoo.build_pipeline("zoo-demo-f4", "unet", pretrained=False, hr_size=32, scale=2,
                       denoiser_config={"preset": "tiny"}).save_pretrained(pipeline)
    pipeline_json = (pipeline / "zoo_pipeline.json").read_bytes()
    existing = tmp_path / "notes.json"
    existing.write_text("mine")
    cases = [
        (["--pipeline", str(pipeline), "--json", str(pipeline / "zoo_pipeline.json"), "--overwrite"], "input"),
        (["--pipeline", str(pipeline), "--markdown", str(pipeline / "README.md"), "--overwrite"], "input"),
        (["--json", str(DEFAULT_PIPELINE_DIR / "zoo_pipeline.json"), "--overwrite"], "input"),
        (["--pipeline", str(pipeline), "--json", str(existing)], "--overwrite"),
        (["--pipeline", str(pipeline), "--markdown", str(existing)], "--overwrite"),
    ]
    for args, reason in cases:
        result = CliRunner().invoke(main, ["bench", *args, "--backends", "torch", "--runs", "1"])
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("zoo: error: --") and reason in lines[0], (args, lines)
    assert (pipeline / "zoo_pipeline.json").read_bytes() == pipeline_json and existing.read_text() == "mine"
    assert not (pipeline / "README.md").read_text().startswith("#  zoo bench")
    replaced = CliRunner().invoke(main, ["bench", *TINY, "--backends", "torch", "--no-end-to-end", "-q",
                                         "--json", str(existing), "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert "results" in json.loads(existing.read_text())
