"""Euler ancestral sampling with zoo's shared sampler signature.

In the variance-exploding view of a VP schedule, ``sigma_t = sqrt((1 - ab_t) / ab_t)``. Each step goes
down to ``sigma_down`` along the model's direction, then adds fresh noise of size ``sigma_up`` so that
the next noise level is reached (``sigma_down**2 + sigma_up**2 = sigma_next**2``); ``eta`` scales the
fresh noise (0: deterministic, DDIM). Written in VP terms, so no tensor is divided by a tiny ᾱ.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from zoo.samplers.noise import Generators, randn
from zoo.samplers.schedules import NoiseSchedule


def _sigma(abar: float) -> float:
    return math.sqrt((1.0 - abar) / abar)


def sample_euler_ancestral(
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    timesteps: Sequence[int],
    *,
    schedule: NoiseSchedule,
    generator: Generators = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    disable: bool | None = None,
    eta: float = 1.0,
) -> torch.Tensor:
    """Run the decreasing ``timesteps`` from the noisy latent ``x``; ``model(x_t, t)`` returns x0."""
    for i, t in enumerate(tqdm(timesteps, desc="euler-ancestral", disable=disable, leave=False)):
        t_next = timesteps[i + 1] if i + 1 < len(timesteps) else -1  # -1: clean (ᾱ = 1)
        a, a_next = float(schedule.alpha_bar(t)), float(schedule.alpha_bar(t_next))
        x0 = model(x, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device))
        eps = (x - math.sqrt(a) * x0) / math.sqrt(1.0 - a)
        sigma, sigma_next = _sigma(a), _sigma(a_next)
        sigma_up = min(sigma_next, eta * math.sqrt(max(sigma_next**2 * (sigma**2 - sigma_next**2), 0.0)) / sigma)
        sigma_down = math.sqrt(sigma_next**2 - sigma_up**2)
        x = math.sqrt(a_next) * x0 + (math.sqrt(a_next) * sigma_down) * eps
        if sigma_up > 0:
            x = x + (math.sqrt(a_next) * sigma_up) * randn(x.shape, generator, x.device, x.dtype)
        if callback is not None:
            callback({"i": i, "t": t, "x": x, "denoised": x0})
    return x
