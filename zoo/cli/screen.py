"""`zoo screen`: rank registered autoencoders by reconstruction fidelity on your own scans."""

from __future__ import annotations

import json
from pathlib import Path

import click

from zoo.cli.options import device_option, out_option
from zoo.cli.output import fail, print_table


def _key_values(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            fail(f"{what} expects NAME=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _nothing_built(failed: dict[str, str]) -> str:
    """One line for a screen where no autoencoder could be built: an unreachable hub is said once, not per VAE."""
    from zoo.weights import HubUnreachableError

    if failed and all(v.startswith(HubUnreachableError.__name__) for v in failed.values()):
        names = list(failed)
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return (f"the Hugging Face hub is unreachable for the weights of {listed}; "
                "set HF_HUB_OFFLINE=1 to use only the cache, or pass --weights NAME=PATH")
    return "no autoencoder could be built: " + "; ".join(f"{k}: {v}" for k, v in failed.items())


def _parse_override(value: str):
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


@click.command("screen", context_settings={"max_content_width": 100})
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Prepared dataset folder (manifest.csv hr column) or a folder of PNG/TIFF images.")
@click.option("--vae", "vaes", required=True, help="Comma-separated names or wildcards, e.g. 'medvae-*,sd-vae'.")
@click.option("--weights", "weights", multiple=True, help="NAME=PATH weights for one VAE (repeatable).")
@click.option("--untrained", is_flag=True, help="Random weights for every VAE (tests, plumbing checks).")
@click.option("--override", "overrides", multiple=True,
              help="Architecture override key=value (JSON value) for every VAE, e.g. block_out_channels=[32,64].")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N images (sorted by id).")
@device_option()
@click.option("--sr-results", "sr_results", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="`zoo eval` report (folder or report.json) with --vae set; repeatable. Fits SR PSNR on recon PSNR.")
@out_option("Folder for screen.json, screen.md and figures; must be new or empty.",
            type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True,
              help="Write into an existing --out, replacing only screen.json, screen.md and its figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def screen_cmd(data_dir, vaes, weights, untrained, overrides, limit, device, sr_results, out, overwrite,
               as_json) -> None:
    """Rank autoencoders on your scans before training: reconstruction PSNR/SSIM, Haar bands, latent stats, speed.

    \b
    Reconstruction PSNR predicts the SR PSNR of a latent diffusion model trained on that VAE
    (paper: R^2 ~ 0.7), so the top rows are the VAEs worth training on. VAEs run in fp32.
    Examples:
      zoo screen --data data/valid --vae 'medvae-*,sd-vae' --weights medvae-4-3=ckpt/vae_4x_3c_2D.ckpt
      zoo screen --data scans/ --vae 'medvae-*' --untrained --limit 8 --out screen_report
      zoo screen --data data/valid --vae medvae-4-3,sd-vae --sr-results reports/medvae --sr-results reports/sdvae
    """
    from zoo.evaluate.report import load_report, to_jsonable
    from zoo.evaluate.screen import (
        SCREEN_FILES,
        SCREEN_HEADER,
        screen,
        screen_table,
        sr_regression,
        write_screen_report,
    )
    from zoo.folders.guard import prepare_output
    from zoo.utils.console import show_progress
    from zoo.utils.devices import resolve_device

    override_values = {k: _parse_override(v) for k, v in _key_values(overrides, "--override").items()}
    weight_paths = _key_values(weights, "--weights")
    if out is not None:
        prepare_output(out, inputs=[data_dir, *sr_results, *weight_paths.values()], overwrite=overwrite,
                       will_write=SCREEN_FILES)
    try:
        result = screen(data_dir, vaes, weights=weight_paths, untrained=untrained, limit=limit,
                        device=resolve_device(device), overrides=override_values,
                        progress=not as_json and show_progress())
        if not result["rows"]:
            fail(_nothing_built(result["failed"]))
        if sr_results:
            result["regression"] = sr_regression(result["rows"], {str(p): load_report(p) for p in sr_results})
        if out is not None:
            write_screen_report(result, out)
    except (ValueError, LookupError, FileNotFoundError, RuntimeError, OSError) as err:
        fail(str(err))
    if as_json:
        click.echo(json.dumps(to_jsonable(result), indent=2))
        return
    print_table(SCREEN_HEADER, screen_table(result))
    for name, err in result["failed"].items():
        click.echo(f"zoo: warning: {name} skipped: {err}", err=True)
    fit = result.get("regression")
    if fit:
        click.echo(f"SR PSNR ~ recon PSNR (n={fit['n']}): r={fit['r']:.3f} R²={fit['r2']:.3f} "
                   f"slope={fit['slope']:.3f} intercept={fit['intercept']:.2f} p={fit['p']:.3g} "
                   f"r 95% CI [{fit['r_ci_low']:.2f}, {fit['r_ci_high']:.2f}]")
    if out is not None:
        click.echo(f"written to {out}")
