"""Open autoencoders from paths (saved folders: :mod:`zoo.autoencoders.saved`; weights into a module:
:mod:`zoo.autoencoders.state`, whose names this module also exports).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from zoo.autoencoders.base import Autoencoder
from zoo.autoencoders.convert import infer_kl_config
from zoo.autoencoders.kl import KLAutoencoder
from zoo.autoencoders.saved import KL_FACTORY, open_saved_autoencoder, save_autoencoder
from zoo.autoencoders.state import (
    CARD_FILE,
    WEIGHTS_FILE,
    StateDictMismatchError,
    load_autoencoder_weights,
    load_strict,
    read_autoencoder_state,
)
from zoo.cards import AutoencoderCard
from zoo.weights import WeightsError

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

    from zoo.folders.schema import read_json

    data = read_json(config_file)  # a plain file, size- and depth-capped
    if not isinstance(data, dict):
        raise ValueError(f"{config_file}: expected a JSON object of AutoencoderKL arguments")
    if data.get("_class_name", "AutoencoderKL") != "AutoencoderKL":
        raise ValueError(f"{config_file} describes a {data['_class_name']}, not an AutoencoderKL")
    params = set(inspect.signature(AutoencoderKL.__init__).parameters) - {"self"}
    return {k: v for k, v in data.items() if k in params}


def _kl_model(config: dict[str, Any]):
    from zoo.autoencoders.kl import build_autoencoder_kl

    return build_autoencoder_kl(**config)
