"""Small helpers shared by the CLI commands: one-line errors and plain-text tables."""

from __future__ import annotations

from typing import NoReturn

import click

from zoo.utils.console import print_table  # noqa: F401  (re-exported for the commands)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``zoo: error: message`` on stderr and exit with ``code``."""
    click.echo(f"zoo: error: {message}", err=True)
    raise SystemExit(code)
