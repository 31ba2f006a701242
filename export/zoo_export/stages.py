"""The three exported stages as small ``nn.Module`` wrappers with tensor-only signatures.

``encoder(x) -> z`` (posterior mode, x in [-1, 1]), ``denoiser(x_t, t, cond) -> raw output``
(t: int64 timesteps of shape [B], as ``zoo.denoisers.base.Denoiser``) and ``decoder(z) -> x``.
Each wrapper puts itself in eval mode: the dynamo exporter warns (and may trace dropout) on a
module left in training mode.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.ops.geometry import Geometry

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


def stage_shapes(stage: str, geometry: Geometry) -> list[tuple[int, ...]]:
    """The per-sample shape of each input of ``stage`` (batch left out), in :data:`STAGE_IO` order."""
    g = geometry
    if stage == "encoder":
        return [(g.in_channels, g.encode_size, g.encode_size)]
    latent = (g.latent_channels, g.latent_size, g.latent_size)
    if stage == "decoder":
        return [latent]
    return [latent, (), latent]


def stage_modules(vae: nn.Module, denoiser: nn.Module) -> dict[str, nn.Module]:
    """The three wrappers, in export order."""
    return {"encoder": EncoderStage(vae), "denoiser": DenoiserStage(denoiser), "decoder": DecoderStage(vae)}
