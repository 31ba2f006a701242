"""Autoencoder training: from scratch (a small VAE) or fine-tuning a registered one (full or LoRA).

Loss: L1 or L2 reconstruction of a posterior sample + ``kl_weight`` x KL(q(z|x) || N(0, I)) (summed
over latent elements, averaged over the batch, as in the LDM first stage) + an optional LPIPS term.
The result is a saved-autoencoder folder that every zoo command accepts by path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from zoo.autoencoders.base import Autoencoder
from zoo.autoencoders.preprocess import from_model_output, to_model_input
from zoo.train.config import TrainConfig
from zoo.train.data import load_pairs, random_crop_flip
from zoo.train.lora import add_lora, merge_lora

__all__ = ["AutoencoderTask", "PosteriorReconstruction"]


def crop_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Crop the bottom/right edges of ``... x H x W`` so both sizes are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    return x[..., : h - h % multiple, : w - w % multiple]


class PosteriorReconstruction(nn.Module):
    """``forward(x, noise) -> (reconstruction of a posterior sample, mean, logvar)``: one module for DDP."""

    def __init__(self, ae: Autoencoder) -> None:
        super().__init__()
        self.ae = ae

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, logvar = self.ae.posterior(x)
        z = mean + torch.exp(0.5 * logvar) * noise.to(mean)
        return self.ae.decode_latent(z), mean, logvar


class AutoencoderTask:
    """Reconstruct HR crops of a prepared dataset folder."""

    def __init__(self, cfg: TrainConfig, device: torch.device, is_main: bool = True) -> None:
        a = cfg.autoencoder
        assert a is not None
        self.cfg = cfg
        self.device = device
        from zoo.factory import build_autoencoder

        ae = build_autoencoder(a.name, weights=a.weights, pretrained=a.pretrained, **a.config)
        self.ae = ae
        self.model = PosteriorReconstruction(ae).train()
        if a.finetune == "lora":
            self._params = add_lora(ae, rank=a.lora_rank, alpha=a.lora_alpha)
        else:
            self._params = [p for p in ae.parameters() if p.requires_grad]
        train, val = load_pairs(cfg.data, "train"), load_pairs(cfg.data, "val")
        self.train_data, self.val_data = train.hr, val.hr
        self.ids = {"train": train.ids, "val": val.ids}
        f = ae.downsample_factor
        if cfg.data.crop is not None and cfg.data.crop % f:
            raise ValueError(f"data.crop {cfg.data.crop} must be a multiple of the downsample factor {f}")
        self._lpips = None
        if a.perceptual_weight > 0:
            from zoo.evaluate.metrics import lpips_metric

            self._lpips = lpips_metric().to(device)

    @property
    def num_items(self) -> int:
        return len(self.train_data)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return self._params

    def batch(self, indices: torch.Tensor, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        crops = []
        for i in indices.tolist():
            (crop,) = random_crop_flip([self.train_data[i]], self.cfg.data.crop, self.cfg.data.flips, generator)
            crops.append(crop_to_multiple(crop, self.ae.downsample_factor))
        x01 = torch.stack(crops).to(device)
        return self._model_input(x01)

    def _model_input(self, x01: torch.Tensor) -> torch.Tensor:
        """[0, 1] -> the autoencoder's input; prepared images are already min-max scaled per slice, so crops
        are not rescaled again (a per-crop min-max would blow up flat regions)."""
        return to_model_input(x01, dataclasses.replace(self.ae.card, intensity="fixed"))

    def loss(self, model: nn.Module, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        a = self.cfg.autoencoder
        f = self.ae.downsample_factor
        shape = (x.shape[0], self.ae.latent_channels, x.shape[-2] // f, x.shape[-1] // f)
        rec, mean, logvar = model(x, torch.randn(shape, generator=generator))
        loss = F.l1_loss(rec, x) if a.loss == "l1" else F.mse_loss(rec, x)
        if a.kl_weight:
            kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1).mean()
            loss = loss + a.kl_weight * kl
        if self._lpips is not None:
            rgb = lambda t: from_model_output(t.float(), 3)  # noqa: E731 - LPIPS wants RGB in [0, 1]
            loss = loss + a.perceptual_weight * self._lpips(rgb(rec), rgb(x))
        return loss

    def validate(self, model: nn.Module) -> dict[str, float]:
        """Mean reconstruction PSNR (dB, data range 1) of the held-out HR images."""
        from zoo.evaluate.metrics import psnr

        if not self.val_data:
            return {}
        ae = model.ae
        values = []
        for hr in self.val_data:
            hr = crop_to_multiple(hr, ae.downsample_factor)[None].to(self.device)
            rec = from_model_output(ae(self._model_input(hr)).float(), 1)
            values.append(psnr(rec[0, 0].cpu().double().numpy(), hr[0, 0].cpu().double().numpy()))
        return {"psnr": sum(values) / len(values)}

    def save_result(self, model: nn.Module, path: Path) -> None:
        from zoo.autoencoders.loading import save_autoencoder

        a = self.cfg.autoencoder
        ae = model.ae
        if a.finetune == "lora":
            merge_lora(ae)
        base = ae.card
        fields = {"weights": None, "sha256": None, **a.card}
        if "modality" in fields:
            fields["modality"] = tuple(fields["modality"])
        if "aliases" in fields:
            fields["aliases"] = tuple(fields["aliases"])
        ae.card = dataclasses.replace(base, **fields)
        save_autoencoder(ae, path)
