"""Torch datasets of HR/LR pairs, looked up by id and filtered by split.

``PairedImageDataset`` reads a prepared folder (pixels in [0, 1]); ``LatentPairDataset`` reads a
latent cache. Both take random crops aligned between HR and LR.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Dataset

from zoo.data.encode import KEYS, load_latents, read_cache
from zoo.data.errors import DataError
from zoo.data.manifest import Record, filter_split, read_manifest
from zoo.data.pngio import load_unit


def aligned_offsets(hr_h: int, hr_w: int, crop: int, step: int,
                    generator: torch.Generator | None = None) -> tuple[int, int]:
    """Random (top, left) of a ``crop`` x ``crop`` window, both multiples of ``step``."""
    if crop % step:
        raise ValueError(f"crop {crop} must be a multiple of {step} (scale x VAE factor)")
    if crop > min(hr_h, hr_w):
        raise ValueError(f"crop {crop} is larger than the image ({hr_h}x{hr_w})")
    rows = (hr_h - crop) // step + 1
    cols = (hr_w - crop) // step + 1
    top = int(torch.randint(rows, (1,), generator=generator)) * step
    left = int(torch.randint(cols, (1,), generator=generator)) * step
    return top, left


class PairedImageDataset(Dataset):
    """HR/LR pairs from a prepared folder: items ``{"id", "hr": 1 x H x W, "lr": 1 x h x w}`` in [0, 1].

    ``crop`` (HR pixels, a multiple of ``scale * vae_factor``) takes a random crop at offsets that are
    multiples of ``scale * vae_factor``, and the matching LR crop; None gives whole images.
    """

    def __init__(self, root: str | os.PathLike, split: str | None = "train", crop: int | None = None,
                 vae_factor: int = 1, scale: int | None = None, ids: list[str] | None = None) -> None:
        self.root = Path(root)
        records = filter_split(read_manifest(self.root), split)
        if ids is not None:
            index = {r.id: r for r in records}
            missing = [i for i in ids if i not in index]
            if missing:
                raise DataError(self.root, f"id(s) not in split {split!r}: {', '.join(missing[:5])}")
            records = [index[i] for i in ids]
        if not records:
            raise DataError(self.root, f"no pairs in split {split!r}")
        self.records: list[Record] = records
        self.scale = scale or self._scale_from_files(records[0])
        self.step = self.scale * vae_factor
        self.crop = crop
        if crop is not None and crop % self.step:
            raise ValueError(f"crop {crop} must be a multiple of scale x VAE factor = {self.step}")

    def _scale_from_files(self, rec: Record) -> int:
        hr, lr = load_unit(self.root / rec.hr), load_unit(self.root / rec.lr)
        if hr.shape[0] % lr.shape[0]:
            raise DataError(self.root / rec.lr, f"LR {lr.shape} is not an integer fraction of HR {hr.shape}")
        return hr.shape[0] // lr.shape[0]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        hr = torch.from_numpy(load_unit(self.root / rec.hr))[None]
        lr = torch.from_numpy(load_unit(self.root / rec.lr))[None]
        if hr.shape[-2] != lr.shape[-2] * self.scale or hr.shape[-1] != lr.shape[-1] * self.scale:
            raise DataError(self.root / rec.lr,
                            f"LR {tuple(lr.shape[-2:])} x {self.scale} != HR {tuple(hr.shape[-2:])}")
        if self.crop is not None:
            top, left = aligned_offsets(hr.shape[-2], hr.shape[-1], self.crop, self.step)
            hr = hr[:, top : top + self.crop, left : left + self.crop]
            s, c = self.scale, self.crop // self.scale
            lr = lr[:, top // s : top // s + c, left // s : left // s + c]
        return {"id": rec.id, "hr": hr, "lr": lr}


class LatentPairDataset(Dataset):
    """Latent pairs from a ``zoo encode`` cache: items ``{"id", "hr", "lr", "lr_up"}`` (C x h x w each).

    ``crop`` is in HR-latent cells (a multiple of the SR scale): the HR and ``lr_up`` latents are cropped
    at offsets that are multiples of the scale, the LR latent at the matching offset / scale.
    ``normalize`` standardises every latent with the cache's per-channel train HR mean/std.
    """

    def __init__(self, cache: str | os.PathLike, split: str | None = "train", crop: int | None = None,
                 keys: tuple[str, ...] = KEYS, normalize: bool = False) -> None:
        self.cache = Path(cache)
        self.info = read_cache(self.cache)
        if not self.info.get("complete"):
            raise DataError(self.cache, "latent cache is incomplete (rerun `zoo encode` to finish it)")
        records = filter_split(read_manifest(self.cache), split)
        self.ids = [r.id for r in records]
        self.latents = load_latents(self.cache, set(self.ids), keys)
        missing = [i for i in self.ids if set(keys) - set(self.latents.get(i, {}))]
        if missing:
            raise DataError(self.cache, f"latents missing for id(s) {', '.join(missing[:5])}")
        if not self.ids:
            raise DataError(self.cache, f"no pairs in split {split!r}")
        self.keys = keys
        self.scale = int(self.info.get("scale") or 1)
        self.crop = crop
        if crop is not None and crop % self.scale:
            raise ValueError(f"latent crop {crop} must be a multiple of the scale {self.scale}")
        self.mean = self.std = None
        if normalize:
            stats = self.info["stats"]["hr"]
            self.mean = torch.tensor(stats["mean"]).view(-1, 1, 1)
            self.std = torch.tensor(stats["std"]).view(-1, 1, 1).clamp_min(1e-6)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        rid = self.ids[index]
        item = dict(self.latents[rid])
        if self.crop is not None:
            h, w = item["hr"].shape[-2:]
            top, left = aligned_offsets(h, w, self.crop, self.scale)
            for key in item:
                if key == "lr":
                    s, c = self.scale, self.crop // self.scale
                    item[key] = item[key][:, top // s : top // s + c, left // s : left // s + c]
                else:
                    item[key] = item[key][:, top : top + self.crop, left : left + self.crop]
        if self.mean is not None:
            item = {k: (v - self.mean) / self.std for k, v in item.items()}
        return {"id": rid, **item}
