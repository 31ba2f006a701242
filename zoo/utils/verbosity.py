"""How much the command lines say: ``-v`` / ``-q`` set the level of zoo's loggers and turn progress bars off.

Library code logs through ``logging.getLogger(__name__)`` and prints nothing itself. The ``zoo`` and
``zoo-export`` commands configure the ``zoo`` and ``zoo_export`` loggers: INFO by default (messages as
plain lines on stderr), DEBUG with ``-v``, WARNING with ``-q`` (which also hides progress bars). What a
command produces (tables, the paths it wrote) goes to stdout whatever the level.
"""

from __future__ import annotations

import logging

import click

__all__ = ["LOGGERS", "add_verbosity_options", "apply_verbosity", "configure_logging", "show_progress"]

LOGGERS = ("zoo", "zoo_export")
_META_KEY = "zoo.utils.verbosity"


class _EchoHandler(logging.Handler):
    """Writes each record to the stderr of the moment (through click, so a swapped stream is honoured)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # logging must never break the command
            self.handleError(record)


class _PlainFormatter(logging.Formatter):
    """INFO is the bare message; a warning or error reads ``zoo: warning: ...``; DEBUG names its logger."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        prog = record.name.split(".")[0].replace("_", "-")
        if record.levelno >= logging.WARNING:
            return f"{prog}: {record.levelname.lower()}: {message}"
        if record.levelno < logging.INFO:
            return f"{prog}: debug: {record.name}: {message}"
        return message


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Set the level of zoo's loggers (INFO; DEBUG if ``verbose``; WARNING if ``quiet``) with one stderr handler."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    for name in LOGGERS:
        log = logging.getLogger(name)
        log.setLevel(level)
        for handler in [h for h in log.handlers if isinstance(h, _EchoHandler)]:
            log.removeHandler(handler)
        handler = _EchoHandler()
        handler.setFormatter(_PlainFormatter())
        log.addHandler(handler)


def show_progress() -> bool:
    """Whether a command line shows progress bars: not under ``-q`` (zoo's loggers above INFO)."""
    return logging.getLogger("zoo").isEnabledFor(logging.INFO)


def _record(ctx: click.Context, param: click.Parameter, value: int | bool) -> None:
    """Remember ``-v``/``-q`` wherever on the command line they are given, and apply them at once."""
    if not value:
        return
    seen = ctx.find_root().meta.setdefault(_META_KEY, {})
    seen[param.name] = value
    apply_verbosity(ctx)


def apply_verbosity(ctx: click.Context) -> None:
    """Configure logging from the ``-v``/``-q`` seen so far in this invocation (none: the INFO default)."""
    seen = ctx.find_root().meta.get(_META_KEY, {})
    if seen.get("verbose") and seen.get("quiet"):
        raise click.UsageError("-v/--verbose and -q/--quiet exclude each other", ctx)
    configure_logging(verbose=seen.get("verbose", 0), quiet=seen.get("quiet", False))


def _options() -> list[click.Option]:
    return [
        click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_record,
                     help="More messages (DEBUG level)."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_record,
                     help="Only warnings and errors; no progress bars."),
    ]


def add_verbosity_options(command: click.Command) -> click.Command:
    """Give ``command`` (and a group's subcommands) ``-v/--verbose`` and ``-q/--quiet``; idempotent."""
    if not any(p.name == "verbose" for p in command.params):
        command.params.extend(_options())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_verbosity_options(sub)
    return command
