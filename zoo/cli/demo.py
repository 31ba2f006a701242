"""``zoo demo``: the embedded default on the bundled held-out samples (offline; about 15 s on the
2-core development machine, figure included: 26 held-out images at 64 -> 256)."""

from __future__ import annotations

import click

from zoo.cli.options import device_option, out_option, pipeline_option


@click.command("demo")
@out_option("Folder for demo.png, report.md and metrics.csv.", name="out_dir", default="zoo-demo-out",
            show_default=True)
@pipeline_option("Saved pipeline folder to demo instead of the embedded default.", default=None)
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "val", "train"]),
              help="Bundled split to run on (test: subjects never used in training or validation).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Sampler steps (default: the pipeline's).")
@click.option("--seed", type=int, default=0, show_default=True)
@device_option()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def demo_cmd(out_dir: str, pipeline_dir: str | None, split: str, steps: int | None, seed: int, device: str,
             as_json: bool) -> None:
    """Super-resolve the bundled held-out samples (4x, 64 -> 256) with the embedded default pipeline, as `zoo sr` would.

    \b
    Writes a figure (LR / bicubic / zoo / HR / |error| of bicubic and zoo, with PSNR/SSIM and a zoomed
    inset of fine detail, for 6 images across modalities), a markdown report of mean PSNR/SSIM of zoo
    vs bicubic, and per-image metrics. Needs no network and no downloads.

    \b
    Example:
      zoo demo                 # -> ./zoo-demo-out/report.md
    """
    import json

    from zoo.cli.output import fail
    from zoo.evaluate.demo import evaluate_default, format_summary, write_demo
    from zoo.utils.devices import resolve_device

    device = resolve_device(device)
    try:
        result = evaluate_default(pipeline_dir, split=split, steps=steps, seed=seed, device=device)
    except (OSError, ValueError, RuntimeError) as err:
        fail(f"demo: {err}")
    paths = write_demo(result, out_dir)
    if as_json:
        click.echo(json.dumps({**result.summary(), **{k: str(v) for k, v in paths.items()}}, indent=2))
        return
    click.echo(format_summary(result))
    click.echo(f"zoo: wrote {paths['report']}, {paths['figure']} and {paths['metrics']}")
