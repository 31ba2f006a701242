"""Training images in memory: HR/LR pairs of a prepared dataset folder, paired by id, plus crops.

Prepared folders (``zoo prepare``) are small PNG sets; holding them in memory as float tensors keeps
every step cheap and the data order a pure function of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from zoo.data.manifest import filter_split, read_manifest
from zoo.data.pngio import load_unit
from zoo.train.config import DataSection

__all__ = ["ImagePairs", "load_pairs", "random_crop_flip"]


@dataclass
class ImagePairs:
    """HR and LR images (1 x H x W float32 in [0, 1]) and their ids, in manifest order."""

    ids: list[str]
    hr: list[torch.Tensor]
    lr: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.ids)


def _tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(load_unit(path)).float()[None]


def load_pairs(data: DataSection, split: str) -> ImagePairs:
    """The ``train`` or ``val`` pairs of ``data.root`` (``val`` uses ``data.val_ids`` if given, else ``val_split``)."""
    if data.root is None:
        raise ValueError("data.root is required to read images")
    root = Path(data.root)
    rows = read_manifest(root)
    if split == "val" and data.val_ids:
        wanted = set(data.val_ids)
        chosen = [r for r in rows if r.id in wanted]
        absent = wanted - {r.id for r in chosen}
        if absent:
            raise ValueError(f"{root}: data.val_ids not in the manifest: {', '.join(sorted(absent)[:5])}")
    elif split == "val":
        chosen = filter_split(rows, data.val_split)
    else:
        held_out = set(data.val_ids or ())
        chosen = [r for r in filter_split(rows, data.train_split) if r.id not in held_out]
    if split == "val":
        chosen = chosen[: data.max_val]
    return ImagePairs(
        ids=[r.id for r in chosen],
        hr=[_tensor(root / r.hr) for r in chosen],
        lr=[_tensor(root / r.lr) for r in chosen],
    )


def random_crop_flip(
    images: list[torch.Tensor], size: int | None, flips: bool, generator: torch.Generator, align: int = 1
) -> list[torch.Tensor]:
    """The same random ``size`` x ``size`` crop and flips of every tensor in ``images`` (C x H x W each).

    Tensors may have different resolutions (an HR image and its LR): the crop window scales with
    each tensor's size relative to the first; its corner is a multiple of ``align`` pixels of the first
    (use the scale factor so that an LR crop starts on a whole pixel). Images smaller than the crop are
    edge-padded.
    """
    ref_h, ref_w = images[0].shape[-2:]
    if size is not None and (ref_h < size or ref_w < size):
        pad_h, pad_w = max(size - ref_h, 0), max(size - ref_w, 0)
        scaled = []
        for im in images:
            f = im.shape[-1] / ref_w
            pads = (0, round(pad_w * f), 0, round(pad_h * f))
            scaled.append(torch.nn.functional.pad(im[None], pads, mode="replicate")[0])
        images = scaled
        ref_h, ref_w = images[0].shape[-2:]
    if size is not None:
        top = int(torch.randint(0, (ref_h - size) // align + 1, (1,), generator=generator)) * align
        left = int(torch.randint(0, (ref_w - size) // align + 1, (1,), generator=generator)) * align
        out = []
        for im in images:
            f = im.shape[-1] / ref_w
            t, left_, s = round(top * f), round(left * f), round(size * f)
            out.append(im[..., t : t + s, left_ : left_ + s])
        images = out
    if flips:
        if bool(torch.randint(0, 2, (1,), generator=generator)):
            images = [im.flip(-1) for im in images]
        if bool(torch.randint(0, 2, (1,), generator=generator)):
            images = [im.flip(-2) for im in images]
    return images
