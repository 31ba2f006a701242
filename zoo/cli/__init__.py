"""The ``zoo`` command line. Subcommands are imported only when run, so ``zoo list`` stays fast."""

from __future__ import annotations

import importlib

import click

from zoo.utils.console import run_reporting_errors
from zoo.utils.verbosity import add_verbosity_options, apply_verbosity

# name -> "module:attribute"; each module keeps heavy imports (torch, ...) inside its functions.
COMMANDS: dict[str, str] = {
    "list": "zoo.cli.components:list_cmd",
    "info": "zoo.cli.components:info_cmd",
    "env": "zoo.cli.env:env_cmd",
    "eval": "zoo.cli.eval:eval_cmd",
    "screen": "zoo.cli.screen:screen_cmd",
    "train": "zoo.cli.train:train_cmd",
    "sr": "zoo.cli.sr:sr_cmd",
    "demo": "zoo.cli.demo:demo_cmd",
    "prepare": "zoo.cli.data:prepare_cmd",
    "encode": "zoo.cli.data:encode_cmd",
    "bench": "zoo.cli.bench:bench_cmd",
    "view": "zoo.cli.view:view_cmd",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return add_verbosity_options(getattr(importlib.import_module(module), attr))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse the group's own options; a mistyped one is one line, exit 2 (not click's usage block)."""
        return run_reporting_errors(lambda: super(LazyGroup, self).parse_args(ctx, args), "zoo")

    def invoke(self, ctx: click.Context):
        """Run the subcommand with zoo's error rules (:func:`zoo.utils.console.run_reporting_errors`): bad input
        (a ZooError, running out of memory, a mistyped option) is one line and exit 2; a bug keeps its
        traceback and exits 1."""
        apply_verbosity(ctx)
        return run_reporting_errors(lambda: self._checked_invoke(ctx), "zoo")

    def _checked_invoke(self, ctx: click.Context):
        """Check zoo's environment variables (one line, exit 2, before any work), then run the subcommand."""
        from zoo.utils.env_vars import check_environment

        check_environment()
        return super().invoke(ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="zoo", prog_name="zoo")
def main() -> None:
    """zoo: latent-diffusion super-resolution of medical images.

    \b
    Start here:
      zoo demo                  super-resolve the bundled samples with the embedded default
      zoo list                  every registered autoencoder, denoiser, sampler and backend
      zoo sr SCAN... --out DIR  super-resolve your own PNG/TIFF/DICOM/NIfTI files
      zoo view SCAN...          look at LR, bicubic, SR and uncertainty in a local web page

    \b
    Conventions: a command that writes files writes them into --out DIR; one that computes
    takes --device (default auto: cuda if available, else cpu); every command takes
    -v (debug messages) or -q (warnings and errors only, no progress bars).
    """


add_verbosity_options(main)


def run() -> None:
    """The ``zoo`` console script and ``python -m zoo``: :func:`main`, then a quick exit
    (:func:`zoo.utils.fast_exit.exit_now`: about 0.3 s less than tearing down torch's modules)."""
    from zoo.utils.fast_exit import exit_now

    try:
        main()
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)
