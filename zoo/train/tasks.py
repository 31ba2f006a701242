"""Pick the training task of a config: a latent SR denoiser or an autoencoder."""

from __future__ import annotations

import torch

from zoo.train.config import TrainConfig


def build_task(cfg: TrainConfig, device: torch.device, is_main: bool = True):
    """The :class:`~zoo.train.loop.TrainTask` for ``cfg.task``."""
    if cfg.task == "autoencoder":
        from zoo.train.autoencoder_task import AutoencoderTask

        return AutoencoderTask(cfg, device, is_main)
    from zoo.train.denoiser_task import DenoiserTask

    return DenoiserTask(cfg, device, is_main)
