"""Load weights into zoo autoencoders; open autoencoders from paths (saved folders: :mod:`zoo.autoencoders.saved`).

Accepted weight sources (see :func:`read_autoencoder_state`): an official MedVAE ``.ckpt``, a
CompVis first-stage ``.ckpt``, a diffusers folder, an original single-file ``.safetensors``, zoo's
saved-autoencoder folder or its ``autoencoder.safetensors``, and ``hf:`` hub ids.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from zoo.autoencoders.base import Autoencoder
from zoo.autoencoders.convert import convert_to_diffusers, infer_kl_config
from zoo.autoencoders.kl import KLAutoencoder
from zoo.autoencoders.saved import CARD_FILE, KL_FACTORY, WEIGHTS_FILE, open_saved_autoencoder, save_autoencoder
from zoo.cards import AutoencoderCard
from zoo.errors import ZooError
from zoo.weights import WeightsError, read_tensors, resolve, unwrap_state_dict

__all__ = [
    "CARD_FILE",
    "WEIGHTS_FILE",
    "StateDictMismatchError",
    "autoencoder_from_path",
    "load_autoencoder_weights",
    "load_strict",
    "read_autoencoder_state",
    "save_autoencoder",
]


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
    data = unwrap_state_dict(read_tensors(path))
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: expected a state dict, got {type(data).__name__}")
    tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{path}: holds no tensors")
    return convert_to_diffusers(tensors, lora=lora)


def load_autoencoder_weights(model: Autoencoder, source: str | os.PathLike, sha256: str | None = None,
                             lora: bool = True) -> Autoencoder:
    """Load ``source`` into ``model`` strictly (in place; returns ``model``).

    A :class:`KLAutoencoder` takes any supported layout; another ``zoo.Autoencoder`` takes its own
    state dict (e.g. a zoo safetensors file). Mismatches raise :class:`StateDictMismatchError`.
    """
    if sha256 is None and model.card is not None and source == model.card.weights:
        sha256 = model.card.sha256
    if isinstance(model, KLAutoencoder):
        sd = read_autoencoder_state(source, sha256, lora=lora)
        load_strict(model.vae, sd, what=str(source))
    else:
        from zoo.weights import load_state_dict

        load_strict(model, load_state_dict(source, sha256), what=str(source))
    return model


def _card_name(stem: str) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._")
    return name or "autoencoder"


def autoencoder_from_path(path: str | os.PathLike, card: AutoencoderCard | None = None) -> Autoencoder:
    """An autoencoder from a saved folder, a diffusers folder or a bare checkpoint file.

    A bare checkpoint without a card gets its architecture inferred from tensor shapes (LDM KL family);
    if that fails, the error asks for a card name plus ``weights=``.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise WeightsError(f"autoencoder path not found: {path}")
    if path.is_dir() and (path / CARD_FILE).exists():
        return open_saved_autoencoder(path)
    sd = read_autoencoder_state(path)
    if card is None:
        try:
            config = _diffusers_config(path) or infer_kl_config(sd)
        except ValueError as err:
            raise WeightsError(
                f"{path}: cannot infer the architecture ({err}); use build_autoencoder(NAME, weights='{path}')"
            ) from err
        factor = 2 ** (len(config["block_out_channels"]) - 1)
        card = AutoencoderCard(
            name=_card_name(path.stem if path.is_file() else path.name),
            factory=KL_FACTORY,
            description=f"autoencoder loaded from {path} (architecture inferred from the weights)",
            config=config,
            in_channels=config["in_channels"],
            latent_channels=config["latent_channels"],
            downsample_factor=factor,
            weights=str(path),
        )
    model = KLAutoencoder(_kl_model(card.config), card)
    load_strict(model.vae, sd, what=str(path))
    return model.eval()


def _diffusers_config(path: Path) -> dict[str, Any] | None:
    """The ``AutoencoderKL`` init arguments of a diffusers folder's ``config.json`` (None if not one)."""
    config_file = path / "config.json" if path.is_dir() else None
    if config_file is None or not config_file.exists():
        return None
    import inspect

    from diffusers import AutoencoderKL

    data = json.loads(config_file.read_text())
    if data.get("_class_name", "AutoencoderKL") != "AutoencoderKL":
        raise ValueError(f"{config_file} describes a {data['_class_name']}, not an AutoencoderKL")
    params = set(inspect.signature(AutoencoderKL.__init__).parameters) - {"self"}
    return {k: v for k, v in data.items() if k in params}


def _kl_model(config: dict[str, Any]):
    from zoo.autoencoders.kl import build_autoencoder_kl

    return build_autoencoder_kl(**config)
