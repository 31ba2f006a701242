"""Noise schedules: the cumulative signal level ᾱ_t of a discrete-time variance-preserving diffusion.

Time convention (standard, DDPM): ``t = 0`` is the least noisy training timestep and ``t = T - 1``
the noisiest; ``x_t = sqrt(ᾱ_t) · x_0 + sqrt(1 - ᾱ_t) · ε``. The "clean" end of a sampling run is
written ``t = -1`` (ᾱ = 1).

The seed code (latent-sr ``03_train_diffusion.py``) stores the same values in the flipped order
(its index ``i = 0`` is pure noise). Its index ``i`` is our ``t = T - 1 - i``; a network trained
there with timestep input ``i`` sees ``T - 1 - t`` (see :meth:`NoiseSchedule.seed_index`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["NoiseSchedule", "cosine_schedule", "linear_schedule", "make_schedule", "strided_timesteps"]


@dataclass(frozen=True)
class NoiseSchedule:
    """ᾱ_t for t = 0..T-1 (float64, decreasing) plus the config that rebuilds it (``make_schedule(**config)``)."""

    alphas_cumprod: torch.Tensor
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def num_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    def __repr__(self) -> str:
        """The config that rebuilds it and its length, not its ``num_timesteps`` values."""
        config = {**self.config, "num_timesteps": self.num_timesteps}
        return "NoiseSchedule(" + ", ".join(f"{k}={v!r}" for k, v in config.items()) + ")"

    def alpha_bar(self, t: torch.Tensor | int, like: torch.Tensor | None = None) -> torch.Tensor:
        """ᾱ at integer timesteps ``t`` (``-1`` = clean, ᾱ = 1), shaped to broadcast against ``like``.

        Computed in float64 and returned in ``like``'s dtype and device (float64 on CPU without ``like``).
        """
        t = torch.as_tensor(t, dtype=torch.long)
        table = torch.cat([self.alphas_cumprod, self.alphas_cumprod.new_ones(1)])  # index -1 -> 1.0
        if t.min() < -1 or t.max() >= self.num_timesteps:
            raise ValueError(f"timesteps must lie in -1..{self.num_timesteps - 1}, got {t.min()}..{t.max()}")
        out = table[t.cpu()]
        if like is None:
            return out
        out = out.reshape(out.shape + (1,) * (like.ndim - out.ndim))
        return out.to(device=like.device, dtype=like.dtype)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise`` for per-sample timesteps ``t`` (shape B)."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def timesteps(self, steps: int) -> list[int]:
        """``steps`` timesteps strided over the whole schedule, noisiest first (see :func:`strided_timesteps`)."""
        return strided_timesteps(self.num_timesteps, steps)

    def seed_index(self, t: int) -> int:
        """The seed code's flipped index for our timestep ``t`` (and back: the map is its own inverse)."""
        return self.num_timesteps - 1 - t


def strided_timesteps(num_timesteps: int, steps: int) -> list[int]:
    """``steps`` distinct integer timesteps from ``T - 1`` down to ``0``, evenly spaced (``linspace``, rounded).

    One step evaluates only ``T - 1`` (a one-shot x0 prediction from pure noise).
    """
    if not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be in 1..{num_timesteps} for a schedule of T={num_timesteps}, got {steps}")
    if steps == 1:
        return [num_timesteps - 1]
    return [round((num_timesteps - 1) * (1 - i / (steps - 1))) for i in range(steps)]


def cosine_schedule(num_timesteps: int = 1000, s: float = 0.008) -> NoiseSchedule:
    """The paper's cosine schedule, exactly as the seed code computes it (float64), in our time convention.

    With ``T = num_timesteps``, ``x_k = k·(T+1)/T`` for ``k = 0..T`` (``linspace(0, T+1, T+1)``) and
    ``f(x) = cos(((x/(T+1) + s)/(1+s)) · π/2)²``:

        ᾱ_t = f(x_{t+1}) / f(x_0),   t = 0..T-1

    so ᾱ_0 = 0.99996 and ᾱ_{T-1} = 3.7e-33 for T=1000 (no beta clipping; the terminal SNR is ~0).
    The seed code's ``flip((f/f[0])[1:])`` is the same array reversed: its index ``i`` is ``t = T-1-i``.
    """
    x = torch.linspace(0, num_timesteps + 1, num_timesteps + 1, dtype=torch.float64)
    f = torch.cos(((x / (num_timesteps + 1)) + s) / (1 + s) * math.pi / 2) ** 2
    abar = (f / f[0])[1:]
    return NoiseSchedule(abar, {"name": "cosine", "num_timesteps": num_timesteps, "s": s})


def linear_schedule(num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """DDPM's linear schedule: ``β_t = linspace(beta_start, beta_end, T)``, ``ᾱ_t = Π_{k≤t} (1 - β_k)`` (float64)."""
    betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, dim=0)
    config = {"name": "linear", "num_timesteps": num_timesteps, "beta_start": beta_start, "beta_end": beta_end}
    return NoiseSchedule(abar, config)


_SCHEDULES = {"cosine": cosine_schedule, "linear": linear_schedule}


def make_schedule(name: str | NoiseSchedule | dict = "cosine", **kwargs: Any) -> NoiseSchedule:
    """A schedule from its name (``cosine``, ``linear``) and options, or its saved config dict."""
    if isinstance(name, NoiseSchedule):
        return name
    if isinstance(name, dict):
        kwargs = {**name, **kwargs}
        name = kwargs.pop("name")
    if name not in _SCHEDULES:
        raise ValueError(f"unknown noise schedule {name!r}; available: {', '.join(_SCHEDULES)}")
    return _SCHEDULES[name](**kwargs)
