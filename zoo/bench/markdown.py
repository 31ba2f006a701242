"""A ``zoo bench`` JSON report rendered as markdown (the committed reports under benchmarks/results/)."""

from __future__ import annotations

from typing import Any

from zoo.bench.machine import summary

STAGES = ("encode", "denoise", "decode")


def _num(value: Any, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _machine(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    lines = [
        "## Machine", "",
        f"- {summary(m)}; host `{m['hostname']}`, {m['platform']}, Python {m['python']}",
        f"- torch threads: {m['torch_threads']}; load average (1/5/15 min) before: {m['load_average_before']}, "
        f"after: {m.get('load_average_after')}",
        f"- versions: {versions}",
    ]
    for result in report["results"]:
        if result["status"] == "ok" and result.get("peak_gflops") is not None:
            lines.append(f"- peak used for `{result['backend']}`: {result['peak_gflops']:.0f} GFLOP/s "
                         f"({result['peak_source']})")
    return lines + [""]


def _config(report: dict[str, Any]) -> list[str]:
    c, g = report["config"], report["geometry"]
    source = f"pipeline `{c['pipeline']}`" if c.get("pipeline") else (
        f"VAE `{c['vae']}` + denoiser `{c['denoiser']}`" + (" (untrained weights)" if c.get("untrained") else ""))
    return [
        "## Configuration", "",
        f"- {source}; device `{c['device']}`, batch {c['batch']}, sampler `{c['sampler']}` with {c['steps']} steps",
        f"- geometry: {g['lr_size']}² LR -> {g['hr_size']}² HR, {g['image_channels']}-channel images; encoder input "
        f"{g['encode_size']}², latent {g['latent_channels']}x{g['latent_size']}² (f={g['downsample_factor']})",
        f"- timing: {c['warmup']} warm-up call(s), then median / min / max of {c['runs']} runs per stage; "
        f"ratios are against `{c['reference']}` measured in the same run",
        "",
    ]


def _flops(report: dict[str, Any]) -> list[str]:
    f = report["flops"]
    rows = []
    for stage in (*STAGES, "end_to_end"):
        entry = f.get(stage)
        if entry is None:
            continue
        hand = entry.get("attention_by_hand_gflop")
        note = ("attention matmuls added by hand" if entry.get("attention_added") else
                ("counted by FlopCounterMode" if stage != "end_to_end" else entry.get("formula", "")))
        rows.append([stage, _num(entry["gflop"], 3), _num(hand, 4), note])
    return ["## FLOPs per call (batch as configured)", "",
            *_table(["stage", "GFLOP", "attention GFLOP (by hand)", "note"], rows)]


def _latency(report: dict[str, Any]) -> list[str]:
    rows = []
    for r in report["results"]:
        if r["status"] != "ok":
            rows.append([f"`{r['backend']}`", r["status"], r.get("reason") or "", *["-"] * 7])
            continue
        for stage in (*STAGES, "end_to_end"):
            t = r["stages"].get(stage)
            if t is None:
                continue
            rows.append([f"`{r['backend']}`", stage, _num(t["median_ms"]), _num(t["min_ms"]), _num(t["max_ms"]),
                         _num(t.get("speedup_vs_reference"), 2, "x"), _num(t.get("gflop_per_s"), 1),
                         _pct(t.get("fraction_of_peak")), _num(t.get("speedup_ceiling"), 2, "x"),
                         _num(t.get("peak_rss_mb"), 0)])
    header = ["backend", "stage", "median ms", "min ms", "max ms", "vs reference", "GFLOP/s", "of peak",
              "at 100 % of peak", "peak RSS MB"]
    return ["## Latency", "", *_table(header, rows)]


def _end_to_end(report: dict[str, Any]) -> list[str]:
    rows = []
    for r in report["results"]:
        t = r.get("stages", {}).get("end_to_end") if r["status"] == "ok" else None
        if t is None:
            continue
        rows.append([f"`{r['backend']}`", r["precision"], _num(t["ms_per_image"]), _num(t["images_per_s"], 2),
                     _num(t.get("speedup_vs_reference"), 2, "x"), str(t.get("denoiser_evaluations", "-")),
                     _validation(r.get("validation"))])
    if not rows:
        return []
    header = ["backend", "precision", "ms / image", "images / s", "vs reference", "denoiser calls",
              "checked when built"]
    return ["## End to end (per image)", "", *_table(header, rows)]


def _validation(v: dict[str, Any] | None) -> str:
    """A runtime's own check, in brief: worst stage difference and the end-to-end dPSNR."""
    if not v:
        return "-"
    worst = max((d for d in v["stage_rel_diff"].values() if d is not None), default=None)
    return (f"vs {v['reference']}: stage rel diff <= {_num(worst, 4)}, "
            f"dPSNR {_num(v['end_to_end_delta_psnr_db'], 3)} dB (limit {_num(v['end_to_end_tolerance_db'], 2)})")


def _targets(report: dict[str, Any]) -> list[str]:
    targets = report.get("targets") or []
    if not targets:
        return []
    rows = [[t["name"], f">= {t['target']:.2f}x", _num(t.get("measured"), 2, "x"), _num(t.get("ceiling"), 2, "x"),
             _target_status(t)] for t in targets]
    return ["## Targets", "", "Targets are goals, not tests; the measured ratios are reported as they came out. "
            "At 100 % of peak: the ratio the stage would reach at the variant's peak FLOP rate (its FLOPs "
            "and the reference's time unchanged); a goal above it is out of reach on this machine.", "",
            *_table(["target", "goal", "measured", "at 100 % of peak", "status"], rows)]


def _target_status(t: dict[str, Any]) -> str:
    status = {True: "met", False: "**not met**", None: "not measured"}[t.get("met")]
    ceiling = t.get("ceiling")
    if t.get("met") is False and ceiling is not None and ceiling < t["target"]:
        status += " (out of reach at this peak)"
    return status


def _baseline(report: dict[str, Any]) -> list[str]:
    b = report.get("baseline")
    if not b:
        return []
    label = "extrapolated" if b["seed"]["extrapolated"] else "measured"
    rows = [
        [f"seed code (eager fp32, `{b['seed']['sampler']}`, K={b['seed']['steps']}, {label})",
         _num(b["seed"]["ms_per_image"]), _num(b["seed"]["images_per_s"], 4)],
        [f"zoo default (`{b['zoo']['backend']}`, `{b['zoo']['sampler']}`, {b['zoo']['steps']} steps, measured)",
         _num(b["zoo"]["ms_per_image"]), _num(b["zoo"]["images_per_s"], 3)],
    ]
    lines = ["## Baseline: the seed code's way against zoo's default", "",
             *_table(["configuration", "ms / image", "images / s"], rows),
             f"Speed-up: **{b['speedup']:.1f}x** ({label} baseline)."]
    if b["seed"]["extrapolated"]:
        lines.append(f"The seed figure is {b['seed']['formula']}; pass `--full-baseline` to run it in full.")
    return lines + [""]


def _files(report: dict[str, Any]) -> list[str]:
    f = report.get("files")
    if not f:
        return []
    row = [f"`{f['backend']}`", str(f["files"]), _num(f["seconds"], 2), _num(f["images_per_s"], 2),
           _num(f["one_file_ms"]), _num(f["marginal_ms_per_image"]), _num(f["pipeline_call_ms_per_image"]),
           _num(f["ratio_to_pipeline_call"], 2, "x")]
    header = ["backend", "files", "seconds", "images / s", "one-file folder ms", "marginal ms / image",
              "pipeline call ms / image", "marginal / call"]
    return [f"## A folder through `zoo sr`'s file loop ({f['lr_size']}² 16-bit PNGs)", "", *_table(header, [row]),
            "Marginal = (time of the folder - time of a one-file folder) / (files - 1).", ""]


def quality_section(q: dict[str, Any]) -> list[str]:
    """The PSNR-against-steps table of a ``quality`` section."""
    fewest = f"fewest within {q['tolerance_db']} dB of {q['reference_steps']}"
    header = ["sampler", *[f"{k} steps" for k in q["steps"]], fewest]
    rows = [[f"`{s['sampler']}`", *[_num(p, 2) for p in s["psnr_db"]], _num(s.get("fewest_steps_within_tol"), 0)]
            for s in q["samplers"]]
    return _table(header, rows)


def _quality(report: dict[str, Any]) -> list[str]:
    q = report.get("quality")
    if not q:
        return []
    return [f"## Quality against steps (PSNR dB, {q['images']} held-out images, {q['pipeline']})", "",
            *quality_section(q)]


def to_markdown(report: dict[str, Any], title: str = "zoo bench report") -> str:
    """The report as a markdown document (machine, configuration, latency, folder throughput,
    FLOPs, baseline, quality)."""
    created = f"Created {report['created']} by `{report['command']}` (schema `{report['schema']}`)."
    lines = [f"# {title}", "", created, ""]
    if report.get("warnings"):
        lines += ["**Warnings**", "", *[f"- {w}" for w in report["warnings"]], ""]
    lines += _machine(report) + _config(report) + _latency(report) + _end_to_end(report) + _targets(report)
    lines += _files(report) + _flops(report) + _baseline(report) + _quality(report)
    return "\n".join(lines).rstrip() + "\n"
