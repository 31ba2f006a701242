"""The :class:`Sampler` object that ``zoo.build_sampler`` returns: a sampler function plus its card and options."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from zoo.cards import SamplerCard
from zoo.samplers.noise import Generators
from zoo.samplers.schedules import NoiseSchedule

__all__ = ["Sampler"]

_SHARED = {"model", "x", "timesteps", "schedule", "generator", "callback", "disable"}


_OPTION_RANGES = {"eta": (0.0, 1.0), "init_std": (0.0, 100.0), "eps_offset": (0.0, 1.0)}
"""Ranges of the built-in samplers' numeric options (inclusive); other numbers must lie within +-1e6."""


def _check_option(key: str, value: Any, default: Any) -> None:
    """A sampler option must have its default's type (an int is a float) and lie in its range."""
    if default is inspect.Parameter.empty or default is None:
        return
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, int | float):
        ok = isinstance(value, int | float) and (isinstance(default, float) or isinstance(value, int))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"option {key}: expected {type(default).__name__}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        lo, hi = _OPTION_RANGES.get(key, (-1e6, 1e6))
        if not (lo <= value <= hi):  # also refuses nan
            raise ValueError(f"option {key}: expected a number in {lo}..{hi}, got {value!r}")


@dataclass(frozen=True)
class Sampler:
    """A sampler function (zoo's shared signature) bound to its card and options (e.g. ``eta``)."""

    card: SamplerCard | None
    fn: Callable[..., torch.Tensor]
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        params = inspect.signature(self.fn).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        options = sorted(set(params) - _SHARED)
        unknown = sorted(set(self.config) - set(options))
        if unknown:
            raise ValueError(f"sampler {self.name!r} has no option(s) {unknown}; its options: {options}")
        for key, value in self.config.items():
            _check_option(key, value, params[key].default)

    @property
    def name(self) -> str:
        return self.card.name if self.card is not None else getattr(self.fn, "__name__", "sampler")

    @property
    def default_steps(self) -> int:
        return self.card.default_steps if self.card is not None else 50

    def with_config(self, **config: Any) -> Sampler:
        """A copy with some options changed."""
        return replace(self, config={**self.config, **config})

    def __call__(
        self,
        model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        steps: int | None = None,
        *,
        schedule: NoiseSchedule,
        generator: Generators = None,
        callback: Callable[[dict[str, Any]], None] | None = None,
        disable: bool | None = None,
    ) -> torch.Tensor:
        """Run ``steps`` (default: the card's ``default_steps``) strided over ``schedule`` from the latent ``x``."""
        timesteps = schedule.timesteps(steps or self.default_steps)
        return self.fn(
            model, x, timesteps, schedule=schedule, generator=generator, callback=callback, disable=disable,
            **self.config,
        )
