"""``zoo train``: train a latent SR denoiser or an autoencoder from a YAML/JSON config."""

from __future__ import annotations

import click

from zoo.cli.options import device_option, out_option


def _parse_set(items: tuple[str, ...]) -> dict:
    import yaml

    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"expected KEY=VALUE (e.g. optim.max_steps=100), got {item!r}", param_hint="--set")
        out[key.strip()] = yaml.safe_load(value)
    return out


@click.command("train")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="YAML or JSON training config (see configs/ and docs/training.md).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoints/last if it exists (same config).")
@click.option("--overwrite", is_flag=True,
              help="Start over in a run folder that holds an earlier run: replaces only its data.json, "
                   "checkpoints/, logs/ and result folder.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set optim.max_steps=200 (repeatable).")
@out_option("Run folder (overrides the config's `output`).", aliases=["--output"])
@device_option()
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
def train_cmd(config_path: str, resume: bool, overwrite: bool, overrides: tuple[str, ...], out: str | None,
              device: str, progress: bool) -> None:
    """Train a latent SR denoiser or an autoencoder (HF Accelerate: one CPU, or several GPUs/nodes).

    \b
    The run folder gets data.json (the ids used), checkpoints/last (atomic; --resume continues
    there, also after kill -9), logs/metrics.csv (+ TensorBoard if installed) and the result:
    OUT/pipeline (a saved pipeline, for `zoo sr --pipeline`) or OUT/autoencoder (a saved
    autoencoder, usable wherever a VAE name is). A run folder that holds an earlier run is refused
    unless --resume or --overwrite. The config and every --set value are checked (key, type, range)
    before any data is read.

    \b
    Examples:
      zoo train --config configs/demo-denoiser.yaml
      zoo train --config configs/paper/medvae-4-3.yaml --set optim.max_steps=1000 --resume
      accelerate launch --multi_gpu --num_processes 4 -m zoo train --config configs/paper/medvae-4-3.yaml
    """
    from zoo.cli.output import fail
    from zoo.train.config import ConfigError, load_config
    from zoo.utils.devices import AUTO, resolve_device

    if resume and overwrite:
        fail("--resume and --overwrite exclude each other")
    if device != AUTO:  # auto stays Accelerate's choice (each process its own GPU under `accelerate launch`)
        device = resolve_device(device)
    values = _parse_set(overrides)
    if out:
        values["output"] = out
    try:
        cfg = load_config(config_path, values)
    except ConfigError as err:
        fail(str(err))
    from zoo.data.errors import DataError
    from zoo.train.loop import check_run_dir, train
    from zoo.utils.console import show_progress
    from zoo.weights import WeightsError

    check_run_dir(cfg, resume=resume, overwrite=overwrite)  # before the (long) data preparation
    try:
        result = train(cfg, resume=resume, progress=progress and show_progress(), overwrite=overwrite, device=device)
    except (ConfigError, DataError, WeightsError, FileNotFoundError, ValueError) as err:
        fail(f"{config_path}: {err}")
    click.echo(f"zoo: trained {cfg.task}; result in {result}")
