"""The three exported stages as small ``nn.Module`` wrappers with tensor-only signatures.

``encoder(x) -> z`` (posterior mode, x in [-1, 1]), ``denoiser(x_t, t, cond) -> raw output``
(t: int64 timesteps of shape [B], as ``zoo.denoisers.base.Denoiser``) and ``decoder(z) -> x``.
Each wrapper puts itself in eval mode: the dynamo exporter warns (and may trace dropout) on a
module left in training mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

STAGES = ("encoder", "denoiser", "decoder")


class EncoderStage(nn.Module):
    """Posterior mode of a :class:`zoo.Autoencoder` (no geometry checks, so H/W may be symbolic)."""

    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae.posterior(x)[0]


class DecoderStage(nn.Module):
    """Latent -> image of a :class:`zoo.Autoencoder` (not clamped)."""

    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae
        self.eval()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode_latent(z)


class DenoiserStage(nn.Module):
    """``denoiser(x_t, t, cond)``: the raw prediction of a zoo latent denoiser."""

    def __init__(self, denoiser: nn.Module) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.eval()

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.denoiser(x_t, t, cond)


@dataclass(frozen=True)
class Geometry:
    """Tensor shapes of one SR task: ``size`` is the HR side, the encoder sees ``encode_size``."""

    in_channels: int
    latent_channels: int
    downsample_factor: int
    size: int
    encode_size: int

    @property
    def latent_size(self) -> int:
        return self.size // self.downsample_factor

    @property
    def encode_latent_size(self) -> int:
        return self.encode_size // self.downsample_factor

    def validate(self) -> None:
        f = self.downsample_factor
        for what, side in (("--size", self.size), ("encoder input size", self.encode_size)):
            if side < f or side % f:
                raise ValueError(f"{what} {side} is not a positive multiple of the VAE's downsample factor {f}")

    def stage_inputs(self, stage: str, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Fixed random example inputs of ``stage`` at ``batch`` (images in [-1, 1], latents ~ N(0, 1))."""
        c, lc, h, lh = self.in_channels, self.latent_channels, self.encode_size, self.latent_size
        if stage == "encoder":
            return (torch.rand(batch, c, h, h, generator=generator) * 2 - 1,)
        if stage == "decoder":
            return (torch.randn(batch, lc, lh, lh, generator=generator),)
        x_t = torch.randn(batch, lc, lh, lh, generator=generator)
        t = torch.randint(0, 1000, (batch,), generator=generator)
        cond = torch.randn(batch, lc, lh, lh, generator=generator)
        return x_t, t, cond

    def to_dict(self) -> dict[str, int]:
        return {
            "in_channels": self.in_channels,
            "latent_channels": self.latent_channels,
            "downsample_factor": self.downsample_factor,
            "size": self.size,
            "encode_size": self.encode_size,
            "latent_size": self.latent_size,
        }


class StageRuntime:
    """``encode / denoise / decode`` for a runtime that runs each stage by name: subclasses define
    ``_run(stage, *inputs) -> float32 tensor`` on the inputs' device (timesteps arrive as int64)."""

    def _run(self, stage: str, *inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._run("encoder", x)

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self._run("denoiser", x_t, t.long(), cond)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._run("decoder", z)


STAGE_IO: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "encoder": (("x",), ("z",)),
    "denoiser": (("x_t", "t", "cond"), ("out",)),
    "decoder": (("z",), ("x",)),
}


def stage_modules(vae: nn.Module, denoiser: nn.Module) -> dict[str, nn.Module]:
    """The three wrappers, in export order."""
    return {"encoder": EncoderStage(vae), "denoiser": DenoiserStage(denoiser), "decoder": DecoderStage(vae)}
