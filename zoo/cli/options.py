"""Options every ``zoo`` command spells the same way: ``--out`` (old spellings kept, hidden), ``--device`` and
``--pipeline`` (a folder or ``hf:owner/repo[@rev]``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from zoo.utils.devices import AUTO, DEVICE_HELP

__all__ = ["AliasedOption", "PipelineFolder", "device_option", "out_option", "pipeline_option"]


class AliasedOption(click.Option):
    """An option that also answers to old spellings (``hidden_aliases``) which help and errors do not show."""

    def __init__(self, *args: Any, hidden_aliases: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_aliases = tuple(hidden_aliases)
        self.opts.extend(self.hidden_aliases)

    def _shown(self) -> list[str]:
        return [o for o in self.opts if o not in self.hidden_aliases]

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        opts, self.opts = self.opts, self._shown()
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts

    def get_error_hint(self, ctx: click.Context) -> str:
        return " / ".join(f"'{o}'" for o in self._shown())


def out_option(help: str, *, name: str = "out", aliases: Sequence[str] = (), **kwargs: Any) -> Callable:
    """``--out`` / ``-o`` (a folder), also accepted as the command's old ``aliases`` (e.g. ``--output``)."""
    kwargs.setdefault("type", click.Path(file_okay=False))
    return click.option("--out", "-o", name, cls=AliasedOption, hidden_aliases=aliases, help=help, **kwargs)


def device_option() -> Callable:
    """``--device``, default ``auto`` (cuda if available, else cpu), resolved by
    :func:`zoo.utils.devices.resolve_device`."""
    return click.option("--device", default=AUTO, show_default=True, help=DEVICE_HELP)


class PipelineFolder(click.Path):
    """An existing pipeline folder, or ``hf:owner/repo[@rev]`` (a pipeline on the Hugging Face hub)."""

    def convert(self, value, param, ctx):  # click's signature
        if isinstance(value, str) and value.startswith("hf:"):
            return value
        return super().convert(value, param, ctx)


def pipeline_option(help: str, **kwargs: Any) -> Callable:
    """``--pipeline``: a saved (or exported) pipeline folder, or ``hf:OWNER/REPO[@REV]`` on the hub."""
    return click.option("--pipeline", "pipeline_dir", type=PipelineFolder(exists=True, file_okay=False),
                        help=help + " Also hf:OWNER/REPO[@REV] on the Hugging Face hub.", **kwargs)
