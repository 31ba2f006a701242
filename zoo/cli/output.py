"""Small helpers shared by the CLI commands: one-line errors and plain-text tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

import click


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``zoo: error: message`` on stderr and exit with ``code``."""
    click.echo(f"zoo: error: {message}", err=True)
    raise SystemExit(code)


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a left-aligned text table."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))
