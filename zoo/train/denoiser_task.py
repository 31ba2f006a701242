"""Latent SR denoiser training: a frozen autoencoder, a denoiser learning x0 (or eps/v) from noisy latents.

Latents are computed once, before the loop: from a ``zoo encode`` latent cache (``data.latents``) or by
encoding the prepared images (``data.root``; with ``data.flips`` each image is also encoded flipped,
so flips are exact in pixel space). Per-channel latent statistics of the training HR latents are
measured and saved with the pipeline (paper §6.3). Each step takes random latent crops, draws
``t ~ U{0..T-1}`` and noise, and regresses the pipeline's ``training_target`` (L1 like the paper, or L2).
Validation runs the full pipeline (encode, sample, decode) on held-out images and reports PSNR in
pixels next to bicubic upsampling.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from zoo.train.config import ConfigError, TrainConfig
from zoo.train.data import ImagePairs, load_pairs, random_crop_flip

__all__ = ["DenoiserTask", "build_training_pipeline"]

LOG_L2_EPS = 1e-4  # log-l2: crops flatter than this (normalised-latent MSE) count as flat, not as infinitely good


def build_training_pipeline(cfg: TrainConfig, device: torch.device):
    """The pipeline whose denoiser is trained: new (random denoiser, trained VAE) or ``pipeline.init``."""
    from zoo.factory import build_autoencoder, default_denoiser
    from zoo.pipeline.build import build_pipeline, load_pipeline

    p = cfg.pipeline
    if p.init:
        return load_pipeline(p.init, device=device)
    extra = dict(p.extra)  # other build_pipeline arguments; those of the two components are used here
    vae = build_autoencoder(p.vae, weights=p.vae_weights, **(extra.pop("vae_config", None) or {}))
    denoiser = default_denoiser(vae, p.hr_size, p.denoiser, weights=extra.pop("denoiser_weights", None),
                                **p.denoiser_config)
    return build_pipeline(
        vae=vae, denoiser=denoiser, sampler=p.sampler, steps=p.steps, scale=p.scale, device=device,
        conditioning=p.conditioning, residual=p.residual, pixel_skip=p.pixel_skip,
        schedule={"name": p.schedule, "num_timesteps": p.timesteps}, **extra,
    )


def _flips(x: torch.Tensor) -> list[torch.Tensor]:
    return [x, x.flip(-1), x.flip(-2), x.flip(-1).flip(-2)]


class DenoiserTask:
    """Train ``pipe.denoiser`` on (HR latent, conditioning latent) pairs."""

    def __init__(self, cfg: TrainConfig, device: torch.device, is_main: bool = True) -> None:
        self.cfg = cfg
        self.device = device
        self.pipe = build_training_pipeline(cfg, device)
        self.pipe.vae.requires_grad_(False).eval()
        self.model = self.pipe.denoiser.train()
        self.model.requires_grad_(True)
        if cfg.data.latents:
            self.targets, self.conds, train_ids = self._latents_from_cache(Path(cfg.data.latents))
        else:
            pairs = load_pairs(cfg.data, "train")
            self.targets, self.conds = self._latents_from_images(pairs)
            train_ids = pairs.ids
        self.val: ImagePairs | None = load_pairs(cfg.data, "val") if is_main and cfg.data.root else None
        self.ids = {"train": train_ids, "val": self.val.ids if self.val else []}
        m = int(self.model.size_multiple)
        f = self.pipe.factor
        self.crop = None if cfg.data.crop is None else cfg.data.crop // f
        if cfg.data.crop is not None and (cfg.data.crop % f or self.crop % m):
            raise ConfigError(f"data.crop {cfg.data.crop} must be a multiple of {f * m} (VAE factor {f} x denoiser "
                              f"size multiple {m})")

    # latents ----------------------------------------------------------------------------------
    @torch.no_grad()
    def _latents_from_images(self, pairs: ImagePairs) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        from zoo.ops.latents import measure_latent_stats

        pipe = self.pipe
        if not len(pairs):
            raise ConfigError(f"{self.cfg.data.root}: no training pairs in split {self.cfg.data.train_split!r}")
        variants: list[tuple[torch.Tensor, torch.Tensor]] = []
        for hr, lr in zip(pairs.hr, pairs.lr, strict=True):
            if self.cfg.data.flips:
                variants += list(zip(_flips(hr), _flips(lr), strict=True))
            else:
                variants.append((hr, lr))
        raw = [pipe.encode(hr[None])[0].cpu() for hr, _ in variants]
        if not self.cfg.pipeline.init:
            pipe.latent_stats = measure_latent_stats(z[None] for z in raw)
        targets = [pipe.normalize(z[None])[0] for z in raw]
        conds = [pipe.conditioning_latent(lr[None])[0].cpu() for _, lr in variants]
        return targets, conds

    @torch.no_grad()
    def _latents_from_cache(self, cache: Path) -> tuple[list[torch.Tensor], list[torch.Tensor], list[str]]:
        from zoo.data.encode import load_latents, read_cache
        from zoo.data.manifest import filter_split, read_manifest
        from zoo.ops.latents import crop_to, measure_latent_stats, upsample_latent

        pipe = self.pipe
        info = read_cache(cache)
        vae_name = getattr(pipe.vae.card, "name", None)
        if info.get("vae") not in (None, vae_name):
            raise ConfigError(
                f"{cache}: latents of autoencoder {info.get('vae')!r}, but the pipeline uses {vae_name!r}"
            )
        held_out = set(self.cfg.data.val_ids or ())
        ids = [r.id for r in filter_split(read_manifest(cache), self.cfg.data.train_split) if r.id not in held_out]
        key = "lr_up" if pipe.conditioning == "bicubic-latent" else "lr"
        found = load_latents(cache, set(ids), ("hr", key))
        missing = [i for i in ids if i not in found or key not in found[i]]
        if missing or not ids:
            raise ConfigError(f"{cache}: no cached latents for id(s) {', '.join(missing[:5]) or '(none)'}")
        raw = [found[i]["hr"].float() for i in ids]
        if not self.cfg.pipeline.init:
            pipe.latent_stats = measure_latent_stats(z[None] for z in raw)
        targets = [pipe.normalize(z[None])[0] for z in raw]
        conds = []
        for i, z in zip(ids, targets, strict=True):
            c = pipe.normalize(found[i][key].float()[None])
            if key == "lr":
                c = crop_to(upsample_latent(c, (c.shape[-2] * pipe.scale, c.shape[-1] * pipe.scale)), z.shape[-2:])
            conds.append(c[0])
        return targets, conds, ids

    # loop interface ---------------------------------------------------------------------------
    @property
    def num_items(self) -> int:
        return len(self.targets)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def batch(self, indices: torch.Tensor, generator: torch.Generator, device: torch.device):
        zs, cs = [], []
        for i in indices.tolist():
            z, c = random_crop_flip([self.targets[i], self.conds[i]], self.crop, False, generator)
            zs.append(z)
            cs.append(c)
        z0, cond = torch.stack(zs), torch.stack(cs)
        t = torch.randint(self.cfg.pipeline.timestep_min, self.pipe.schedule.num_timesteps, (z0.shape[0],),
                          generator=generator)
        noise = torch.randn(z0.shape, generator=generator)
        return z0.to(device), cond.to(device), t.to(device), noise.to(device)

    def loss(self, model: nn.Module, batch, generator: torch.Generator) -> torch.Tensor:
        z0, cond, t, noise = batch
        x_t = self.pipe.schedule.add_noise(z0, noise, t)
        target = self.pipe.training_target(z0, noise, t, cond)
        out = model(x_t, t, cond).float()
        if self.cfg.pipeline.loss == "log-l2":  # mean over crops of log MSE: the mean-PSNR objective
            mse = (out - target).pow(2).flatten(1).mean(1)
            return torch.log10(mse + LOG_L2_EPS).mean()
        return F.l1_loss(out, target) if self.cfg.pipeline.loss == "l1" else F.mse_loss(out, target)

    def validate(self, model: nn.Module) -> dict[str, float]:
        """Pixel PSNR (dB) of the pipeline's SR and of bicubic upsampling on the held-out images."""
        from zoo.evaluate.metrics import psnr
        from zoo.ops.resample import upsample_lr

        if not self.val:
            return {}
        sr_psnr, bic_psnr = [], []
        for hr, lr in zip(self.val.hr, self.val.lr, strict=True):
            sr = self.pipe.super_resolve(lr[None].to(self.device), seed=0, progress=False)[0, 0].cpu().double()
            bic = upsample_lr(lr[None], tuple(hr.shape[-2:]))[0, 0].double()
            ref = hr[0].double()
            sr_psnr.append(psnr(sr.numpy(), ref.numpy()))
            bic_psnr.append(psnr(bic.numpy(), ref.numpy()))
        return {"psnr": sum(sr_psnr) / len(sr_psnr), "psnr_bicubic": sum(bic_psnr) / len(bic_psnr)}

    def save_result(self, model: nn.Module, path: Path) -> None:
        """The pipeline folder, its model card naming the training data (the embedded default's is known)."""
        from zoo.assets import ASSETS_DIR
        from zoo.pipeline.model_card import BUNDLED_SAMPLES

        data = self.cfg.data
        root = None if data.root is None else Path(data.root).resolve()  # load_config resolved zoo-asset: paths
        if root is None or root.is_relative_to(ASSETS_DIR.resolve()):
            described = f"{BUNDLED_SAMPLES}, split {data.train_split!r}"
        else:
            described = f"{root.name} (a `zoo prepare` folder), split {data.train_split!r}"
        self.pipe.save_pretrained(path, training_data=described)
