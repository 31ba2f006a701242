"""``zoo-export``: export / validate / inspect encoder, denoiser and decoder exports.

``zoo-export --vae NAME ...`` is ``zoo-export export --vae NAME ...`` (export is the default
command). Heavy modules (torch, onnx, tensorrt) are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import click

from zoo.utils.verbosity import add_verbosity_options, apply_verbosity

EXIT_BAD_INPUT = 2
EXIT_VALIDATION = 1


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One-line error on stderr, then exit (2: bad input or unavailable backend, 1: failed validation)."""
    click.echo(f"zoo-export: error: {message}", err=True)
    raise SystemExit(code)


def _is_verbosity(arg: str) -> bool:
    """``-v``, ``-vv``, ``-q``, ``--verbose`` or ``--quiet``."""
    return arg in ("--verbose", "--quiet") or (len(arg) > 1 and arg[0] == "-" and set(arg[1:]) <= {"v", "q"})


class DefaultGroup(click.Group):
    """A group that runs ``export`` when the first argument is not a subcommand."""

    default_command = "export"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        lead = 0  # -v/-q may come first: zoo-export -q --vae NAME ...
        while lead < len(args) and _is_verbosity(args[lead]):
            lead += 1
        rest = args[lead:]
        if rest and rest[0] not in self.commands and rest[0] not in ("-h", "--help", "--version"):
            args = [*args[:lead], self.default_command, *rest]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """A :class:`zoo.errors.ZooError` (or running out of memory) is one line and exit code 2."""
        from zoo.utils.console import run_reporting_errors

        apply_verbosity(ctx)
        return run_reporting_errors(lambda: self._checked_invoke(ctx), "zoo-export")

    def _checked_invoke(self, ctx: click.Context):
        """Check zoo's environment variables (one line, exit 2, before any work), then run the subcommand."""
        from zoo.utils.env_vars import check_environment

        check_environment()
        return super().invoke(ctx)


def _parse_batch(value: str) -> tuple[int, int, int]:
    try:
        parts = tuple(int(p) for p in value.split(":"))
    except ValueError:
        parts = ()
    if len(parts) == 1:
        parts = parts * 3
    if len(parts) != 3 or not 1 <= parts[0] <= parts[1] <= parts[2]:
        raise click.BadParameter(f"{value!r}: expected MIN:OPT:MAX with 1 <= MIN <= OPT <= MAX (or one number)")
    return parts  # type: ignore[return-value]


def _parse_json(value: str | None, flag: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError as err:
        raise click.BadParameter(f"{flag}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise click.BadParameter(f"{flag}: expected a JSON object")
    return data


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="zoo-export", prog_name="zoo-export")
def main() -> None:
    """Export a zoo SR pipeline's encoder, denoiser and decoder to ONNX Runtime or fp16 TensorRT.

    \b
    Examples:
      zoo-export --vae medvae --untrained --backend onnx --out exports/medvae-onnx
      zoo-export --pipeline runs/medvae-sr --backend trt --batch 1:1:4 --size 256 --out exports/trt
      zoo-export info exports/medvae-onnx
      zoo-export validate exports/medvae-onnx

    -v shows debug messages, -q only warnings and errors (no progress bars).
    """


@main.command("export")
@click.option("--vae", help="Autoencoder name (e.g. medvae, sd-vae, a plugin's); from the pipeline if omitted.")
@click.option("--pipeline", "pipeline_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Saved pipeline folder (zoo_pipeline.json): exports its trained VAE and denoiser.")
@click.option("--denoiser", default="unet", show_default=True, help="Denoiser name when no --pipeline (untrained).")
@click.option("--backend", type=click.Choice(["onnx", "trt"]), default="onnx", show_default=True)
@click.option("--fp16", is_flag=True,
              help="fp16 ONNX (overflow-checked; VAE stages fall back to fp32); implied by trt.")
@click.option("--fp16-io", is_flag=True, help="With --fp16: fp16 inputs/outputs too (default keeps I/O fp32).")
@click.option("--batch", default="1:1:4", show_default=True, help="Batch range MIN:OPT:MAX (TensorRT profile).")
@click.option("--size", type=int, default=256, show_default=True, help="HR image side H (W = H).")
@click.option("--scale", type=int, default=4, show_default=True, help="SR factor when no --pipeline.")
@click.option("--static-size/--dynamic-size", default=False, show_default=True,
              help="Fix H/W in the ONNX files (batch stays dynamic).")
@click.option("--weights", type=click.Path(exists=True, path_type=Path), help="VAE weights (file or folder).")
@click.option("--untrained", is_flag=True, help="Random VAE weights (latency work); marked in the manifest.")
@click.option("--vae-config", help="JSON overrides of the VAE architecture, e.g. '{\"norm_num_groups\": 8}'.")
@click.option("--denoiser-config", help="JSON overrides of the denoiser, e.g. '{\"preset\": \"tiny\"}'.")
@click.option("--exporter", type=click.Choice(["dynamo", "torchscript"]), default="dynamo", show_default=True)
@click.option("--opset", type=int, help="ONNX opset (default: the exporter's, 20 for dynamo, 17 for torchscript).")
@click.option("--opt-level", type=click.IntRange(0, 5), default=3, show_default=True,
              help="TensorRT builder optimization level.")
@click.option("--timing-cache", type=click.Path(dir_okay=False, path_type=Path),
              help="TensorRT timing cache to reuse/update (default: per GPU under tensorrt/ in zoo's cache).")
@click.option("--workspace-gib", type=float, default=8.0, show_default=True, help="TensorRT workspace limit.")
@click.option("--force", is_flag=True, help="Write stages that fail validation, marked 'failed' in the manifest.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; must be new or empty.")
@click.option("--overwrite", is_flag=True,
              help="Write into an existing --out, replacing only the export's own encoder/, denoiser/, decoder/, "
                   "pipeline/, pipeline.json and manifest.json.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON instead of a table.")
def export_cmd(**kw: Any) -> None:
    """Export, validate against PyTorch, and (trt) compile the three stages into --out.

    \b
    Example (no weights needed; the manifest marks them untrained):
      zoo-export --vae medvae --untrained --backend onnx --size 256 --out exports/medvae

    --out must be a new or empty folder (or pass --overwrite). --size must fit the models (a multiple
    of scale x VAE factor and of the denoiser's size multiple); it is checked before any export work.
    """
    batch = _parse_batch(kw["batch"])
    if kw["size"] < 1 or kw["scale"] < 1:
        fail(f"--size and --scale must be positive, got --size {kw['size']} --scale {kw['scale']}")
    if kw["weights"] and kw["untrained"]:
        fail("--weights and --untrained are mutually exclusive")
    if kw["pipeline_dir"] is None and not kw["vae"]:
        fail("give --vae NAME or --pipeline DIR")
    if kw["pipeline_dir"] is not None and kw["weights"]:
        fail("--weights applies to --vae NAME exports; a --pipeline folder carries its own weights")
    if kw["timing_cache"]:  # a cache TensorRT reads and rewrites: never one of the pipeline's files or weights
        from zoo.folders.guard import prepare_output_file

        prepare_output_file(kw["timing_cache"], inputs=[kw["pipeline_dir"], kw["weights"], kw["out"]], overwrite=True,
                            option="--timing-cache")
    if kw["backend"] == "trt":  # before anything heavy: no CUDA / TensorRT is a clean exit 2
        from zoo_export.trt import TensorRTUnavailable, import_tensorrt

        try:
            import_tensorrt()
        except TensorRTUnavailable as err:
            fail(str(err))
    vae_config = _parse_json(kw["vae_config"], "--vae-config")
    den_config = _parse_json(kw["denoiser_config"], "--denoiser-config")
    from zoo.folders.guard import prepare_output
    from zoo.utils.console import show_progress
    from zoo_export.exporter import export_pipeline
    from zoo_export.options import ExportOptions, export_files
    from zoo_export.validate import ExportValidationError

    # before loading anything: the output folder (and, below, --size once the models are known)
    prepare_output(kw["out"], inputs=[kw["pipeline_dir"], kw["weights"], kw["timing_cache"]],
                   overwrite=kw["overwrite"], will_write=export_files())
    pipe, source = _load_source(kw, vae_config, den_config)

    options = ExportOptions(
        backend=kw["backend"], fp16=kw["fp16"] or kw["backend"] == "trt", keep_io_fp32=not kw["fp16_io"],
        batch=batch, size=kw["size"], dynamic_size=not kw["static_size"], dynamo=kw["exporter"] == "dynamo",
        opset=kw["opset"], force=kw["force"], builder_optimization_level=kw["opt_level"],
        timing_cache=str(kw["timing_cache"]) if kw["timing_cache"] else None, workspace_gib=kw["workspace_gib"],
        progress=show_progress(), source=source,
    )
    try:
        manifest = export_pipeline(pipe, kw["out"], options, pipeline_dir=kw["pipeline_dir"],
                                   overwrite=kw["overwrite"])
    except ExportValidationError as err:
        fail(str(err), EXIT_VALIDATION)
    except (ValueError, FileExistsError) as err:
        fail(str(err))
    _print_manifest(manifest, kw["out"], kw["as_json"])
    if manifest["status"] != "ok":
        raise SystemExit(EXIT_VALIDATION)


def _load_source(kw: dict[str, Any], vae_config: dict, den_config: dict) -> tuple[Any, dict[str, Any]]:
    """The SR pipeline to export (loaded, or composed from names) and its provenance for the manifest."""
    import zoo

    try:
        if kw["pipeline_dir"] is not None:
            pipe = zoo.load_pipeline(kw["pipeline_dir"])
            if kw["vae"] and zoo.get_card("autoencoder", kw["vae"]).name != pipe.vae.card.name:
                fail(f"--vae {kw['vae']} does not match the pipeline's autoencoder {pipe.vae.card.name!r}")
            return pipe, {
                "pipeline": str(kw["pipeline_dir"]), "vae": pipe.vae.card.name, "vae_weights": "pipeline",
                "denoiser": getattr(pipe.denoiser.card, "name", None), "denoiser_weights": "pipeline",
            }
        vae = zoo.build_autoencoder(kw["vae"], weights=str(kw["weights"]) if kw["weights"] else None,
                                    pretrained=not kw["untrained"], **vae_config)
        pipe = zoo.build_pipeline(vae, zoo.default_denoiser(vae, kw["size"], kw["denoiser"], **den_config), "ddim",
                                  scale=kw["scale"])
    except SystemExit:
        raise
    except Exception as err:  # unknown names, unreadable weights, bad configs: one line, exit 2
        fail(f"{type(err).__name__}: {err}")
    vae_weights = "untrained" if kw["untrained"] else (str(kw["weights"]) if kw["weights"] else pipe.vae.card.weights)
    return pipe, {
        "pipeline": None, "vae": pipe.vae.card.name, "vae_weights": vae_weights, "vae_config": vae_config,
        "denoiser": kw["denoiser"], "denoiser_weights": "untrained", "denoiser_config": dict(pipe.denoiser.config),
    }


def _stage_rows(manifest: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, stage in manifest["stages"].items():
        rel = stage["parity"]["rel_diff"]
        note = stage.get("fp16_fallback") or stage.get("error") or ""
        engine = stage.get("engine", {}).get("file", "")
        rows.append([name, stage["precision"], f"{rel:.2e}" if rel is not None else "nan", stage["status"],
                     stage["onnx"], engine, note])
    return rows


def _print_manifest(manifest: dict[str, Any], root: Path, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(manifest, indent=2))
        return
    from zoo.utils.console import print_table

    src = manifest.get("source", {})
    click.echo(f"{root}: {manifest['backend']} export of {src.get('vae')} + {src.get('denoiser')} "
               f"(VAE weights: {src.get('vae_weights')}, denoiser weights: {src.get('denoiser_weights')})")
    print_table(["stage", "precision", "rel diff", "status", "onnx", "engine", "note"], _stage_rows(manifest))
    e2e = manifest.get("end_to_end")
    if e2e:
        delta = e2e["delta_psnr_db"]
        click.echo(f"end-to-end SR vs PyTorch ({e2e['how']}): dPSNR {'nan' if delta is None else f'{delta:.2g}'} dB "
                   f"(limit {e2e['tolerance_db']} dB) -> {'ok' if e2e['passed'] else 'FAILED'}")
    click.echo(f"status: {manifest['status']}")


@main.command("info")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def info_cmd(folder: Path, as_json: bool) -> None:
    """Show what an export folder holds (stages, precisions, parity figures, engines).

    \b
    Example:  zoo-export info exports/medvae
    """
    from zoo_export.manifest import ManifestError, load_manifest

    try:
        manifest = load_manifest(folder)
    except ManifestError as err:
        fail(str(err))
    _print_manifest(manifest, folder, as_json)


@main.command("validate")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
def validate_cmd(folder: Path, as_json: bool) -> None:
    """Check an export folder: manifest, sha256 of every file, sessions at batch 1 and 3, engines' target.

    \b
    Example:  zoo-export validate exports/medvae
    """
    from zoo_export.check import check_export
    from zoo_export.manifest import ManifestError

    try:
        report = check_export(folder)
    except ManifestError as err:
        fail(str(err))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        from zoo.utils.console import print_table

        print_table(["check", "result"], [[k, v] for k, v in report["checks"].items()])
        click.echo(f"status: {'ok' if report['ok'] else 'FAILED'}")
    if not report["ok"]:
        raise SystemExit(EXIT_VALIDATION)


add_verbosity_options(main)
