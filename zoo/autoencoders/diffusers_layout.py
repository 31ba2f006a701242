"""A saved autoencoder that diffusers can open: diffusers' own files beside zoo's ``zoo_autoencoder.json``.

A pipeline's ``vae/`` holds, for a diffusers ``AutoencoderKL``, exactly what
``AutoencoderKL.save_pretrained`` writes (``config.json`` + ``diffusion_pytorch_model.safetensors``),
so ``AutoencoderKL.from_pretrained(run, subfolder="vae")`` opens it, plus ``zoo_autoencoder.json``
(format 2: the registered component and its config, intensity and provenance). Any other
autoencoder keeps zoo's layout, ``zoo_autoencoder.json`` + ``autoencoder.safetensors``.

zoo opens either layout the same way: the architecture comes from ``zoo_autoencoder.json`` through
the registry. In the diffusers layout ``config.json`` is read as data only (its ``_class_name`` must
be ``AutoencoderKL``, and it must describe the architecture zoo built, so diffusers and zoo cannot
open two different models from one folder) and the weights load strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.autoencoders.base import Autoencoder
from zoo.autoencoders.kl import KLAutoencoder
from zoo.autoencoders.state import CARD_FILE, WEIGHTS_FILE
from zoo.folders.paths import inside
from zoo.folders.schema import Architecture, Obj, Str, read_json, validate
from zoo.weights import WeightsError

__all__ = ["DIFFUSERS_CONFIG", "DIFFUSERS_WEIGHTS", "is_diffusers_kl", "live_config", "weights_file"]

DIFFUSERS_CONFIG = "config.json"
DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"
CONFIG_SCHEMA = Obj({"_class_name": Str(("AutoencoderKL",))}, {"_diffusers_version": Str(), "_name_or_path": Str()},
                    others=True)
"""What zoo requires of ``config.json``; the other keys are compared with the architecture, never acted upon,
and hold architecture only (:class:`~zoo.folders.schema.Architecture`)."""
_DIFFUSERS_KEYS = ("_class_name", "_diffusers_version", "_name_or_path")
"""diffusers' own bookkeeping: ``_name_or_path`` is where diffusers once loaded the model from; zoo never reads it."""


def is_diffusers_kl(ae: Autoencoder) -> bool:
    """True if ``ae`` wraps a plain diffusers ``AutoencoderKL`` (not a subclass diffusers would name otherwise)."""
    if not isinstance(ae, KLAutoencoder):
        return False  # no diffusers import for the other autoencoders
    from diffusers import AutoencoderKL

    return type(ae.vae) is AutoencoderKL


def live_config(ae: KLAutoencoder) -> dict[str, Any]:
    """The diffusers config of ``ae``'s live ``AutoencoderKL`` as JSON values (tuples as lists, no ``_`` keys)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(ae.vae.config).items() if not k.startswith("_")}


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def weights_file(folder: Path, model: Autoencoder) -> Path:
    """The weights file of a saved-autoencoder folder for ``model`` (built from its ``zoo_autoencoder.json``):
    ``autoencoder.safetensors``, or, in the diffusers layout, ``diffusion_pytorch_model.safetensors`` once
    ``config.json`` is checked against ``model``."""
    if _present(folder / WEIGHTS_FILE) and _present(folder / DIFFUSERS_CONFIG):
        raise WeightsError(f"{folder}: holds both {WEIGHTS_FILE} (zoo's layout) and {DIFFUSERS_CONFIG} (diffusers' "
                           "layout); keep one, so that zoo and diffusers open the same weights")
    if not _present(folder / DIFFUSERS_CONFIG):
        weights = inside(folder, WEIGHTS_FILE, WEIGHTS_FILE, folder)
        if not weights.is_file():
            raise WeightsError(f"{weights}: missing (the saved autoencoder folder is incomplete)")
        return weights
    _check_config(inside(folder, DIFFUSERS_CONFIG, DIFFUSERS_CONFIG, folder), model)
    weights = inside(folder, DIFFUSERS_WEIGHTS, DIFFUSERS_WEIGHTS, folder)
    if not weights.is_file():
        raise WeightsError(f"{weights}: missing (the saved autoencoder folder is incomplete)")
    return weights


def _check_config(config_file: Path, model: Autoencoder) -> None:
    """``config.json`` must be an ``AutoencoderKL`` config of the architecture zoo built (read, never imported)."""
    data = read_json(config_file, CONFIG_SCHEMA)
    validate({k: v for k, v in data.items() if k not in _DIFFUSERS_KEYS}, Architecture(), config_file)
    name = model.card.name if model.card is not None else type(model).__name__
    if not is_diffusers_kl(model):
        raise WeightsError(f"{config_file}: an AutoencoderKL config beside the {name!r} autoencoder of {CARD_FILE}, "
                           "which is not an AutoencoderKL")
    built: dict[str, Any] = live_config(model)
    for key in sorted(set(built) & set(data)):
        if data[key] != built[key]:
            raise WeightsError(f"{config_file}: {key} is {data[key]!r}, but the {name!r} autoencoder that "
                               f"{CARD_FILE} describes has {built[key]!r}; the two files disagree")
