"""The stage interface between an :class:`~zoo.pipeline.SRPipeline` and the engine that runs its networks.

A backend (``zoo.build_backend(name, **options)``) turns a pipeline into a :class:`Runtime` with
``backend.runtime(pipeline)``; a backend that can reopen its own export folder also implements
``backend.load(folder) -> SRPipeline`` (``zoo.load_pipeline`` calls it when the folder holds a
``manifest.json`` with a ``"backend"`` key). See docs/backends.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    from zoo.pipeline.sr_pipeline import SRPipeline

__all__ = ["Backend", "Runtime"]


@runtime_checkable
class Runtime(Protocol):
    """The three network stages of one SR call; every tensor is a torch tensor on the pipeline's device.

    Inputs arrive as float32; outputs may be any float dtype (the pipeline casts them to float32).
    """

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: B x in_channels x H x W in [-1, 1] -> the raw posterior-mode latent B x C x H/f x W/f."""
        ...

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Raw denoiser output (of its ``prediction_type``) for the noisy latent ``x_t``, int64 timesteps
        ``t`` (B,) (t = 0 least noisy) and the conditioning latent ``cond`` (same shape as ``x_t``)."""
        ...

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Raw latent B x C x h x w -> image B x in_channels x h·f x w·f, nominally [-1, 1], not clamped."""
        ...


@runtime_checkable
class Backend(Protocol):
    """What ``zoo.build_backend`` returns."""

    def runtime(self, pipeline: SRPipeline) -> Runtime:
        """A runtime that runs ``pipeline``'s autoencoder and denoiser."""
        ...
