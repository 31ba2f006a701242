"""Terminal output shared by zoo's command lines and zoo-export's: one-line errors and plain-text tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import click

__all__ = ["BUG_EXIT_CODE", "one_line", "print_table", "report_bug", "run_reporting_errors", "show_progress"]

T = TypeVar("T")
BUG_EXIT_CODE = 1  # an unexpected exception inside zoo; bad input (files, options) exits with 2


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


def show_progress() -> bool:
    """Whether a command shows progress bars: only when stderr is a terminal, and not under ``-q``."""
    import sys

    from zoo.utils.verbosity import show_progress as level_allows

    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty()) and level_allows()


def report_bug(prog: str, where: str = "") -> None:
    """Print the traceback of the exception being handled, then one line that calls it a bug in ``prog``."""
    import traceback

    click.echo(traceback.format_exc().rstrip(), err=True)
    at = f" while processing {where}" if where else ""
    click.echo(f"{prog}: error: unexpected error{at} (a bug in {prog}, not a problem with your input; please "
               "report it with the traceback above)", err=True)


def _is_usage_error(err: BaseException) -> bool:
    """A mistyped command line (bad option value, unknown option, missing argument), not ``--help``."""
    no_args_help = getattr(click.exceptions, "NoArgsIsHelpError", ())
    return isinstance(err, click.UsageError) and not isinstance(err, no_args_help)


def run_reporting_errors(call: Callable[[], T], prog: str) -> T:
    """``call()`` as a command run (:func:`zoo.folders.guard.locking`: output folders locked until it ends) with
    zoo's error rules.

    A ZooError, MemoryError or mistyped option (click's usage errors) becomes ``PROG: error: <one line>``
    on stderr and exit code 2. Any other exception is a bug: its traceback, one line saying so, exit code 1.
    """
    from zoo.errors import ZooError
    from zoo.folders.guard import locking

    try:
        with locking():
            return call()
    except ZooError as err:
        click.echo(f"{prog}: error: {one_line(err)}", err=True)
        raise SystemExit(2) from None
    except MemoryError as err:
        detail = one_line(err) if str(err) else "the data does not fit in memory"
        click.echo(f"{prog}: error: out of memory: {detail}", err=True)
        raise SystemExit(2) from None
    except click.UsageError as err:
        if not _is_usage_error(err):
            raise
        click.echo(f"{prog}: error: {one_line(click.ClickException(err.format_message()))}", err=True)
        raise SystemExit(2) from None
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception:  # noqa: BLE001 - a bug: shown as one, with its traceback
        report_bug(prog)
        raise SystemExit(BUG_EXIT_CODE) from None
