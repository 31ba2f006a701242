"""Samplers: plain functions with one shared signature (k-diffusion style).

    sample_x(model, x, timesteps, *, schedule, generator=None, callback=None, disable=None, **options)

- ``model(x_t, t)`` returns the x0 estimate; ``t`` is an int64 tensor (B,) of training timesteps.
- ``x`` is the starting latent at ``timesteps[0]`` (standard normal noise for a full run).
- ``timesteps`` are decreasing integer training timesteps (t = 0 least noisy; see
  :mod:`zoo.samplers.schedules`); after the last one the sample is clean (t = -1, ᾱ = 1).
- ``generator``: a ``torch.Generator`` or one per image, for samplers that add noise.
- ``callback({"i", "t", "x", "denoised"})`` after each model evaluation; ``disable`` turns off the
  progress bar (``None``: off when not a terminal).

Every sampler returns the model's x0 estimate unchanged when the model is exact, at any step count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from zoo.samplers.noise import Generators, randn
from zoo.samplers.schedules import NoiseSchedule

__all__ = ["sample_cold", "sample_ddim", "sample_ddpm", "sample_dpmpp_2m"]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[dict[str, Any]], None] | None


def _t(x: torch.Tensor, t: int) -> torch.Tensor:
    return torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)


def _abar(schedule: NoiseSchedule, t: int) -> float:
    return float(schedule.alpha_bar(t))


def _steps(timesteps: Sequence[int], disable: bool | None, name: str):
    pairs = [(t, timesteps[i + 1] if i + 1 < len(timesteps) else -1) for i, t in enumerate(timesteps)]
    return enumerate(tqdm(pairs, desc=name, disable=disable, leave=False))


def sample_ddim(
    model: Model, x: torch.Tensor, timesteps: Sequence[int], *, schedule: NoiseSchedule,
    generator: Generators = None, callback: Callback = None, disable: bool | None = None, eta: float = 0.0,
) -> torch.Tensor:
    """DDIM (Song et al. 2021); ``eta=0`` is deterministic, ``eta=1`` matches DDPM's posterior variance."""
    for i, (t, t_prev) in _steps(timesteps, disable, "ddim"):
        a, a_prev = _abar(schedule, t), _abar(schedule, t_prev)
        x0 = model(x, _t(x, t))
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
        c_eps = math.sqrt(max(1 - a_prev - sigma**2, 0.0))
        if c_eps > 0:
            eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
            x = math.sqrt(a_prev) * x0 + c_eps * eps
            del eps
        else:  # the last step (or eta=1): no eps term, and no eps-sized buffers on large latents
            x = math.sqrt(a_prev) * x0
        if sigma > 0:
            x = x + sigma * randn(x.shape, generator, x.device, x.dtype)
        if callback is not None:
            callback({"i": i, "t": t, "x": x, "denoised": x0})
    return x


def sample_ddpm(
    model: Model, x: torch.Tensor, timesteps: Sequence[int], *, schedule: NoiseSchedule,
    generator: Generators = None, callback: Callback = None, disable: bool | None = None,
) -> torch.Tensor:
    """Ancestral DDPM (Ho et al. 2020): draw from the Gaussian posterior q(x_prev | x_t, x0) at each step.

    With strided timesteps the per-step ``α = ᾱ_t / ᾱ_prev`` spans the skipped steps.
    """
    for i, (t, t_prev) in _steps(timesteps, disable, "ddpm"):
        a, a_prev = _abar(schedule, t), _abar(schedule, t_prev)
        alpha = a / a_prev
        x0 = model(x, _t(x, t))
        mean = (math.sqrt(a_prev) * (1 - alpha) * x0 + math.sqrt(alpha) * (1 - a_prev) * x) / (1 - a)
        var = (1 - a_prev) / (1 - a) * (1 - alpha)
        x = mean + math.sqrt(var) * randn(x.shape, generator, x.device, x.dtype) if var > 0 else mean
        if callback is not None:
            callback({"i": i, "t": t, "x": x, "denoised": x0})
    return x


def sample_dpmpp_2m(
    model: Model, x: torch.Tensor, timesteps: Sequence[int], *, schedule: NoiseSchedule,
    generator: Generators = None, callback: Callback = None, disable: bool | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022) in data prediction, variance-preserving form.

    ``λ = log(α/σ)``, ``h = λ_next - λ``; ``x ← (σ_next/σ)·x − α_next·expm1(−h)·D`` with
    ``D = (1 + 1/2r)·x0 − (1/2r)·x0_prev``, ``r = h_prev/h`` (first order on the first step);
    the last step (to ᾱ = 1) returns the x0 estimate.
    """
    old_x0, h_last = None, None
    for i, (t, t_next) in _steps(timesteps, disable, "dpmpp-2m"):
        a, a_next = _abar(schedule, t), _abar(schedule, t_next)
        x0 = model(x, _t(x, t))
        if t_next == -1:
            x = x0
        else:
            sigma, sigma_next = math.sqrt(1 - a), math.sqrt(1 - a_next)
            h = math.log(math.sqrt(a_next) / sigma_next) - math.log(math.sqrt(a) / sigma)
            d = x0
            if old_x0 is not None:
                r = h_last / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * old_x0
            x = (sigma_next / sigma) * x - math.sqrt(a_next) * math.expm1(-h) * d
            old_x0, h_last = x0, h
        if callback is not None:
            callback({"i": i, "t": t, "x": x, "denoised": x0})
    return x


def sample_cold(
    model: Model, x: torch.Tensor, timesteps: Sequence[int], *, schedule: NoiseSchedule,
    generator: Generators = None, callback: Callback = None, disable: bool | None = None,
    legacy_unstrided: bool = False, init_std: float = 1.0, eps_offset: float = 1e-4,
) -> torch.Tensor:
    """The paper's x0 iteration (seed code ``LatentDiffusionSR.sample``), with K = ``len(timesteps)`` evaluations.

    For each timestep but the last: ``x0 = model(z, t)``, ``ε = (z − √ᾱ_t·x0)/(√(1−ᾱ_t) + eps_offset)``,
    ``z += (√ᾱ_next − √ᾱ_t)·x0 + (√(1−ᾱ_next) − √(1−ᾱ_t))·ε``; then return ``model(z, t_last)``.

    ``timesteps`` are strided over the full schedule. ``legacy_unstrided=True`` reproduces the seed
    code instead (for comparison only): the K *noisiest* timesteps ``T-1 … T-K``, which stops in the
    high-noise regime for K < T. ``init_std=0.5`` reproduces the seed code's initial noise scale.
    """
    if legacy_unstrided:
        timesteps = [schedule.num_timesteps - 1 - i for i in range(len(timesteps))]
    z = x * init_std
    for i, (t, t_next) in _steps(timesteps, disable, "cold"):
        x0 = model(z, _t(z, t))
        if t_next != -1:
            a, a_next = _abar(schedule, t), _abar(schedule, t_next)
            eps = (z - math.sqrt(a) * x0) / (math.sqrt(1 - a) + eps_offset)
            z = z + (math.sqrt(a_next) - math.sqrt(a)) * x0 + (math.sqrt(1 - a_next) - math.sqrt(1 - a)) * eps
        else:
            z = x0
        if callback is not None:
            callback({"i": i, "t": t, "x": z, "denoised": x0})
    return z
