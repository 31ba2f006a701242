"""Autoencoder weights into a module: read any supported weight source, load it strictly.

Accepted weight sources (see :func:`read_autoencoder_state`): an official MedVAE ``.ckpt``, a
CompVis first-stage ``.ckpt``, a diffusers folder, an original single-file ``.safetensors``, zoo's
saved-autoencoder folder (:mod:`zoo.autoencoders.saved`, whose file names are defined here) or its
``autoencoder.safetensors``, and ``hf:`` hub ids.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from zoo.autoencoders.base import Autoencoder
from zoo.autoencoders.convert import convert_to_diffusers
from zoo.autoencoders.kl import KLAutoencoder
from zoo.errors import ZooError
from zoo.weights import WeightsError, load_state_dict, read_tensors, resolve, unwrap_state_dict

__all__ = [
    "CARD_FILE", "WEIGHTS_FILE", "StateDictMismatchError", "load_autoencoder_weights", "load_strict",
    "read_autoencoder_state",
]

CARD_FILE = "zoo_autoencoder.json"
WEIGHTS_FILE = "autoencoder.safetensors"


class StateDictMismatchError(ZooError, ValueError):
    """Checkpoint keys or shapes do not match the architecture (strict loading)."""


def _list(keys: list[str], limit: int = 8) -> str:
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_strict(module: torch.nn.Module, sd: dict[str, torch.Tensor], what: str = "checkpoint") -> None:
    """``load_state_dict(strict=True)`` with one clear error listing missing, unexpected and mis-shaped keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(sd))
        if tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_list(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_list(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es): {_list(shapes, 4)}")
        raise StateDictMismatchError(f"{what} does not fit the architecture: " + "; ".join(parts))
    module.load_state_dict(sd, strict=True)


def _diffusers_folder_weights(folder: Path) -> Path:
    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"):
        if (folder / name).exists():
            return folder / name
    if (folder / "vae").is_dir():
        return _diffusers_folder_weights(folder / "vae")
    raise WeightsError(f"{folder}: a diffusers folder needs diffusion_pytorch_model.safetensors (or .bin)")


def _weights_file(path: Path) -> Path:
    """The tensor file behind a local source (file, zoo folder, diffusers folder or pipeline's vae/)."""
    if path.is_file():
        return path
    if (path / WEIGHTS_FILE).exists():
        return path / WEIGHTS_FILE
    if (path / "config.json").exists() or (path / "vae").is_dir():
        return _diffusers_folder_weights(path)
    raise WeightsError(f"{path}: not an autoencoder folder (no {CARD_FILE}/{WEIGHTS_FILE}, no diffusers config.json)")


def read_autoencoder_state(source: str | os.PathLike, sha256: str | None = None,
                           lora: bool = True) -> dict[str, torch.Tensor]:
    """Tensors of an autoencoder weight source, converted to diffusers ``AutoencoderKL`` key names."""
    path = _weights_file(resolve(source, sha256))
    data = unwrap_state_dict(read_tensors(path), path)
    tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{path}: holds no tensors")
    return convert_to_diffusers(tensors, lora=lora)


def load_autoencoder_weights(model: Autoencoder, source: str | os.PathLike, sha256: str | None = None,
                             lora: bool = True) -> Autoencoder:
    """Load ``source`` into ``model`` strictly (in place; returns ``model``), checking ``sha256`` if given
    (:func:`zoo.factory.weight_source` gives a card's default source with the card's checksum).

    A :class:`KLAutoencoder` takes any supported layout; another ``zoo.Autoencoder`` takes its own
    state dict (e.g. a zoo safetensors file). Mismatches raise :class:`StateDictMismatchError`.
    """
    if isinstance(model, KLAutoencoder):
        sd = read_autoencoder_state(source, sha256, lora=lora)
        load_strict(model.vae, sd, what=str(source))
    else:
        load_strict(model, load_state_dict(source, sha256), what=str(source))
    return model
