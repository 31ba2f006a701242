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
