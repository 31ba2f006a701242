"""Terminal output shared by zoo's command lines and zoo-export's: one-line errors and plain-text tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import click

__all__ = ["one_line", "print_table", "run_reporting_errors"]

T = TypeVar("T")


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a left-aligned text table."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


def one_line(err: BaseException) -> str:
    """An exception's message on one line (its type name when it has no message)."""
    text = " ".join(str(err).split())
    return text or type(err).__name__


def run_reporting_errors(call: Callable[[], T], prog: str) -> T:
    """``call()``; a ZooError or MemoryError becomes ``PROG: error: <one line>`` on stderr and exit code 2.

    Any other exception is a bug and keeps its traceback.
    """
    from zoo.errors import ZooError

    try:
        return call()
    except ZooError as err:
        click.echo(f"{prog}: error: {one_line(err)}", err=True)
        raise SystemExit(2) from None
    except MemoryError as err:
        detail = one_line(err) if str(err) else "the data does not fit in memory"
        click.echo(f"{prog}: error: out of memory: {detail}", err=True)
        raise SystemExit(2) from None
