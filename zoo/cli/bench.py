"""``zoo bench``: latency per stage and end to end, per backend, with ratios against torch eager."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli.options import device_option, out_option
from zoo.cli.output import fail, print_table

BENCH_FILES = ("bench.json", "bench.md")


@click.command("bench")
@click.option("--pipeline", "pipeline_dir", type=click.Path(exists=True, file_okay=False),
              help="Saved pipeline folder (default: the embedded default pipeline).")
@click.option("--vae", help="Benchmark this registered VAE with the default denoiser for its latent geometry.")
@click.option("--weights", "vae_weights", help="VAE weights for --vae (a local file or hf: id).")
@click.option("--untrained", is_flag=True, help="Random weights for --vae and its denoiser (latency only).")
@click.option("--denoiser-preset", default=None,
              help="UNet preset of the --vae denoiser: paper (default), small or tiny.")
@click.option("--backends", default="torch,onnxruntime", show_default=True,
              help="Comma-separated: torch, torch-bf16, torch-fp16, torch-compile, onnxruntime, onnxruntime-fp16, "
                   "tensorrt, any registered backend, or 'all'. torch (eager fp32) is always measured as reference.")
@device_option()
@click.option("--size", type=click.IntRange(min=1), default=None,
              help="HR image side (default: the pipeline's, or 256 with --vae).")
@click.option("--scale", type=click.IntRange(min=1), default=None, help="SR factor with --vae (default 4).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Images per call.")
@click.option("--tile", default="auto", show_default=True,
              help="Tiling of the end-to-end call: auto (the pipeline's choice), off, or N (HR tile side); when "
                   "tiled, the stage timings are those of one tile. The end-to-end entry reports time per HR "
                   "pixel and peak RSS.")
@click.option("--sampler", default=None, help="Sampler for the end-to-end runs (default: the pipeline's).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Sampler steps of the end-to-end runs (default: the pipeline's).")
@click.option("--runs", type=click.IntRange(min=1), default=5, show_default=True, help="Timed runs per measurement.")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True, help="Untimed warm-up calls first.")
@click.option("--peak-gflops", type=float, default=None,
              help="Device peak GFLOP/s for the 'fraction of peak' column (default: spec table / CPU estimate).")
@click.option("--no-end-to-end", is_flag=True, help="Time the three stages only.")
@click.option("--baseline", is_flag=True,
              help="Also compare the seed code's way (eager fp32, cold sampler, K=1000; extrapolated) "
                   "with zoo's default.")
@click.option("--full-baseline", is_flag=True, help="Run the K=1000 seed baseline in full instead of extrapolating.")
@click.option("--baseline-steps", type=click.IntRange(min=1), default=1000, show_default=True,
              help="K of the seed baseline.")
@click.option("--quality", is_flag=True,
              help="Also measure PSNR against steps per sampler on the bundled held-out images (embedded default).")
@click.option("--quality-steps", default="1,2,4,8,16,32,64,1000", show_default=True,
              help="Step counts of --quality (the largest is the reference).")
@click.option("--quality-images", type=click.IntRange(min=1), default=None,
              help="Use at most this many held-out images for --quality.")
@click.option("--quality-data", type=click.Path(exists=True, file_okay=False), default=None,
              help="Prepared dataset folder for --quality (default: the bundled samples); its test split is used.")
@click.option("--files", type=click.IntRange(min=1), default=None, metavar="N",
              help="Also time a folder of N synthetic LR PNGs through zoo sr's file loop (read, SR, write, manifest; "
                   "in a temporary folder, removed after): images/s, marginal ms per image and its ratio to the "
                   "pipeline call of the reference backend.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where exported ONNX/TensorRT stages are cached (default: exports/ in zoo's private cache, "
                   "ZOO_CACHE or ~/.cache/zoo).")
@out_option("Folder for the report: bench.json (schema: docs/bench.md) and bench.md; must be new or empty.")
@click.option("--overwrite", is_flag=True, help="Write into an existing --out, replacing only bench.json and bench.md; "
                   "let --json/--markdown replace an existing file (never an input).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the full report as JSON (schema: docs/bench.md) to a new file (or --overwrite); "
                   "'-' prints it.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), default=None,
              help="Write the report as markdown to a new file (or --overwrite).")
@click.option("--title", default=None, help="Title of the markdown report.")
def bench_cmd(pipeline_dir, vae, vae_weights, untrained, denoiser_preset, backends, device, size, scale, batch, tile,
              sampler,
              steps, runs, warmup, peak_gflops, no_end_to_end, baseline, full_baseline, baseline_steps, quality,
              quality_steps, quality_images, quality_data, files, cache_dir, out, overwrite, json_path, markdown_path,
              title) -> None:
    """Time encode, one denoiser evaluation, decode and the whole SR call per backend.

    Each measurement is warm-up calls, then the median, min and max of --runs calls (synchronised
    on CUDA); every backend is compared with torch eager fp32 timed in the same run. The report
    also has peak memory, FLOPs per stage and the fraction of the device's peak, and the machine
    (CPU/GPU, cores, load average; a busy machine is flagged).

    \b
    Examples:
      zoo bench                                           # the embedded default pipeline
      zoo bench --vae medvae-4-3 --untrained --size 256 --backends torch,onnxruntime \\
                --out reports/bench                       # the paper's geometry: bench.json, bench.md
      zoo bench --pipeline runs/mrnet --backends all --device cuda --baseline
      zoo bench --size 2048 --tile 512 --backends torch   # tiled: time per HR pixel, peak RSS
      zoo bench --backends torch --files 32                # a folder through zoo sr's file loop
    """
    from zoo.assets import DEFAULT_PIPELINE_DIR
    from zoo.bench.runner import BenchConfig, BenchError
    from zoo.folders.guard import prepare_output

    if pipeline_dir and vae:
        fail("pass either --pipeline DIR or --vae NAME, not both")
    if vae and not (untrained or vae_weights):
        fail(f"--vae {vae}: pass --untrained (random weights, latency only) or --weights PATH")
    if (untrained or vae_weights or denoiser_preset) and not vae:
        fail("--untrained, --weights and --denoiser-preset go with --vae NAME")
    if runs < 1 or warmup < 0 or batch < 1:
        fail("--runs and --batch must be >= 1 and --warmup >= 0")
    inputs = [pipeline_dir, vae_weights, quality_data, cache_dir] + ([] if pipeline_dir or vae else
                                                                      [DEFAULT_PIPELINE_DIR])
    if out is not None:
        prepare_output(out, inputs=inputs, overwrite=overwrite, will_write=BENCH_FILES)
    _check_report_files(json_path, markdown_path, inputs, overwrite)
    try:
        q_steps = tuple(sorted({int(s) for s in quality_steps.split(",") if s.strip()}))
    except ValueError:
        fail(f"--quality-steps {quality_steps!r}: expected comma-separated integers")
    config = BenchConfig(
        pipeline=pipeline_dir, vae=vae, vae_weights=vae_weights, untrained=untrained, denoiser_preset=denoiser_preset,
        backends=backends, device=device, size=size, scale=scale, batch=batch, sampler=sampler, steps=steps,
        runs=runs, warmup=warmup, peak_gflops=peak_gflops, end_to_end=not no_end_to_end,
        baseline=baseline or full_baseline, full_baseline=full_baseline, baseline_steps=baseline_steps,
        quality=quality, quality_steps=q_steps, quality_images=quality_images, quality_data=quality_data,
        cache_dir=cache_dir, tile=_tile_option(tile), files=files,
    )
    try:
        report = _run(config)
    except BenchError as err:
        fail(str(err))
    if out is not None:
        _write(report, str(Path(out, BENCH_FILES[0])), str(Path(out, BENCH_FILES[1])), title)
    _write(report, json_path, markdown_path, title)
    if json_path != "-":
        _print_summary(report)
        if out is not None:
            click.echo(f"zoo: wrote {' and '.join(BENCH_FILES)} to {out}")


def _check_report_files(json_path: str | None, markdown_path: str | None, inputs: list, overwrite: bool) -> None:
    """--json/--markdown FILE: never an input (even with --overwrite), an existing file only with --overwrite."""
    from zoo.folders.guard import prepare_output_file

    if json_path and json_path != "-":
        prepare_output_file(json_path, inputs=inputs, overwrite=overwrite, option="--json")
    if markdown_path:
        prepare_output_file(markdown_path, inputs=inputs, overwrite=overwrite, option="--markdown")
    if json_path and markdown_path and json_path != "-" and Path(json_path).resolve() == Path(markdown_path).resolve():
        fail(f"--json and --markdown name the same file ({json_path}); give two files")


def _tile_option(value: str) -> int | str | None:
    value = value.strip().lower()
    if value == "auto":
        return None
    if value == "off" or (value.isdigit() and int(value) > 0):
        return value if value == "off" else int(value)
    fail(f"--tile {value!r}: use auto, off, or an HR tile side in pixels")


def _run(config):
    import logging
    import warnings

    from zoo.bench.runner import run_bench

    # exporter chatter ("torchvision is not installed", fp16 converter truncation notes): not about timing
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module="onnxconverter_common")

    report = run_bench(config)  # progress through the zoo.bench loggers (INFO; -q hides it)
    for warning in report["warnings"]:
        logging.getLogger(__name__).warning(warning)
    return report


def _write(report: dict, json_path: str | None, markdown_path: str | None, title: str | None) -> None:
    import json

    from zoo.bench.markdown import to_markdown
    from zoo.folders.atomic import write_text

    text = json.dumps(report, indent=2, allow_nan=False)
    if json_path == "-":
        click.echo(text)
    elif json_path:
        write_text(json_path, text + "\n")
    if markdown_path:
        write_text(markdown_path, to_markdown(report, title or "zoo bench report"))


def _fmt(value, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def _print_summary(report: dict) -> None:
    rows, notes = [], []
    for r in report["results"]:
        if r["status"] != "ok":
            rows.append([r["backend"], r["status"], "-", "-", "-", "-"])
            notes.append(f"{r['backend']} {r['status']}: {r.get('reason')}")
            continue
        for stage, t in r["stages"].items():
            rows.append([r["backend"], stage, _fmt(t["median_ms"]), f"{_fmt(t['min_ms'])}-{_fmt(t['max_ms'])}",
                         _fmt(t.get("speedup_vs_reference"), 2, "x"), _fmt(t.get("fraction_of_peak") and
                                                                             100 * t["fraction_of_peak"], 1, "%")])
    print_table(["backend", "stage", "median ms", "min-max ms", "vs torch", "of peak"], rows)
    for note in notes:
        click.echo(note)
    b = report.get("baseline")
    if b:
        kind = "extrapolated" if b["seed"]["extrapolated"] else "measured"
        click.echo(f"\nbaseline: seed code {b['seed']['images_per_s']:.4g} images/s ({kind}), zoo default "
                   f"{b['zoo']['images_per_s']:.4g} images/s: {b['speedup']:.1f}x")
    f = report.get("files")
    if f:
        click.echo(f"\nfiles: {f['files']} x {f['lr_size']}² PNG through zoo sr's file loop ({f['backend']}): "
                   f"{f['images_per_s']:.3g} images/s, marginal {f['marginal_ms_per_image']:.1f} ms per image, "
                   f"{_fmt(f['ratio_to_pipeline_call'], 2, 'x')} the pipeline call "
                   f"({_fmt(f['pipeline_call_ms_per_image'])} ms)")
    q = report.get("quality")
    if q:
        for s in q["samplers"]:
            click.echo(f"quality: {s['sampler']}: fewest steps within {q['tolerance_db']} dB of "
                       f"{q['reference_steps']} steps: {s['fewest_steps_within_tol']}")
