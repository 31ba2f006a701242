"""zoo's saved-autoencoder folder: ``zoo_autoencoder.json`` + ``autoencoder.safetensors`` (or, in a pipeline
folder, diffusers' own files for an ``AutoencoderKL``: :mod:`zoo.autoencoders.diffusers_layout`).

``zoo_autoencoder.json`` (format version 2) names the registered ``component`` that rebuilds the
architecture (name and card version; ``null`` for zoo's built-in diffusers ``AutoencoderKL``), and
holds the card's data without its factory: name, geometry, intensity, provenance, and ``config``,
the full arguments the component was built with (overrides included). Opening a folder never
imports anything it names: the component resolves through the registry (:mod:`zoo.registry`).

Version-1 files stored the whole card, factory included. They still open: the card's name must be
an installed component whose factory is the stored one (or the stored factory is zoo's built-in
``AutoencoderKL`` one, or the factory of an installed component); any other factory is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from zoo.autoencoders.base import Autoencoder
from zoo.autoencoders.diffusers_layout import (
    DIFFUSERS_CONFIG,
    DIFFUSERS_WEIGHTS,
    is_diffusers_kl,
    live_config,
    weights_file,
)
from zoo.autoencoders.kl import KLAutoencoder, as_autoencoder, build_autoencoder_kl
from zoo.autoencoders.state import CARD_FILE, WEIGHTS_FILE, load_autoencoder_weights
from zoo.cards import AutoencoderCard, Card, CardError
from zoo.folders.paths import inside
from zoo.folders.schema import (
    Architecture,
    Bool,
    Either,
    FolderSchemaError,
    Int,
    Json,
    ListOf,
    MapOf,
    Obj,
    Str,
    read_json,
    validate,
)
from zoo.weights import WeightsError

__all__ = ["CARD_FILE", "FORMAT", "FORMAT_VERSION", "KL_FACTORY", "WEIGHTS_FILE", "open_saved_autoencoder",
           "save_autoencoder", "save_pipeline_autoencoder"]

FORMAT = "zoo-autoencoder"
FORMAT_VERSION = 2
KL_FACTORY = "zoo.autoencoders.kl:build_autoencoder_kl"

_NAME = Str(what="a component name")
_SPECS = {
    "name": _NAME, "description": Str(), "license": Str(), "source": Either((MapOf(Str()), Str())),
    "aliases": ListOf(_NAME), "config": Architecture(), "version": Str(), "in_channels": Int(1),
    "latent_channels": Int(1), "downsample_factor": Int(1), "modality": ListOf(Str()), "weights": Str(null=True),
    "sha256": Str(null=True), "intensity": Str(("minmax", "fixed")), "fp16_safe": Bool(),
}
_REQUIRED = ("name", "config", "in_channels", "latent_channels", "downsample_factor")


def card_schema(with_factory: bool = False) -> Obj:
    """Schema of a stored autoencoder card: its data fields (``factory`` only in version-1 files)."""
    names = [f.name for f in fields(AutoencoderCard) if f.name != "factory" or with_factory]
    specs = {name: _SPECS.get(name, Json()) for name in names}
    specs["factory"] = Str()
    required = [*_REQUIRED, "factory"] if with_factory else _REQUIRED
    return Obj({k: specs[k] for k in required}, {k: specs[k] for k in names if k not in required})


def _schema(version: int) -> Obj:
    header = {"format": Str((FORMAT,)), "format_version": Int(1, FORMAT_VERSION)}
    if version == 1:
        return Obj({**header, "card": card_schema(with_factory=True)}, {"zoo_version": Str()})
    component = Obj({"name": _NAME, "version": Str()}, null=True)
    return Obj({**header, "component": component, "card": card_schema()}, {"zoo_version": Str()})


def read_card_file(card_file: Path) -> dict[str, Any]:
    """The validated content of a ``zoo_autoencoder.json`` (either format version)."""
    data = read_json(card_file)
    version = data.get("format_version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise FolderSchemaError(f"{card_file}: format_version {version} is newer than this zoo reads; upgrade zoo")
    validate(data, _schema(1 if version == 1 else FORMAT_VERSION), card_file)
    return data


def _component_v1(name: str, factory: str, where: Path) -> Card | None:
    """The installed card that rebuilds a version-1 folder (None: zoo's built-in AutoencoderKL)."""
    from zoo.registry import UnknownComponentError, components_with_factory, get_card, not_installed

    try:
        registered = get_card("autoencoder", name)
    except UnknownComponentError:
        registered = None
    if registered is not None:
        if registered.factory != factory:
            raise WeightsError(f"{where}: card.factory: {factory!r} is not the factory of the installed autoencoder "
                               f"{name!r} ({registered.factory}); refusing to run it")
        return registered
    if factory == KL_FACTORY:
        return None
    same = components_with_factory("autoencoder", factory)
    if same:
        return same[0]
    raise not_installed("autoencoder", name, f"{where}: card.name")


def _build(component: Card | None, config: dict[str, Any], where: Path) -> tuple[Autoencoder, str]:
    """The architecture (random weights) and the factory reference of the card it gets."""
    from zoo.registry import load_factory

    try:
        if component is None:
            return KLAutoencoder(build_autoencoder_kl(**config)), KL_FACTORY
        return as_autoencoder(load_factory(component)(**config)), component.factory
    except (TypeError, ValueError) as err:
        what = f"the {component.name!r} autoencoder" if component is not None else "an AutoencoderKL"
        raise WeightsError(f"{where}: card.config does not build {what}: {err}") from err


def _card(data: dict[str, Any], factory: str, where: Path) -> AutoencoderCard:
    values = {k: tuple(v) if k in ("aliases", "modality") else v for k, v in data.items() if k != "factory"}
    try:
        return AutoencoderCard(**values, factory=factory)
    except (CardError, TypeError) as err:
        raise WeightsError(f"{where}: card: {err}") from err


def open_saved_autoencoder(folder: str | os.PathLike) -> Autoencoder:
    """The autoencoder of a saved folder (weights loaded strictly); its files must lie inside ``folder``."""
    from zoo.registry import installed_card

    folder = Path(folder)
    card_file = inside(folder, CARD_FILE, CARD_FILE, folder)
    data = read_card_file(card_file)
    stored = data["card"]
    if data["format_version"] == 1:
        component = _component_v1(stored["name"], stored["factory"], card_file)
    else:
        ref = data["component"]
        component = None if ref is None else installed_card("autoencoder", ref["name"], f"{card_file}: component.name")
    model, factory = _build(component, dict(stored["config"]), card_file)
    model.card = _card(stored, factory, card_file)
    return load_autoencoder_weights(model, weights_file(folder, model)).eval()


def architecture(ae: Autoencoder) -> tuple[dict[str, str] | None, dict[str, Any]]:
    """(component reference, config) that rebuild ``ae``'s architecture through the registry.

    A KL autoencoder of zoo's built-in factory is stored with its live diffusers config (under its
    own name when that name is registered with that factory, else as the built-in ``AutoencoderKL``);
    another autoencoder is stored as the registered component whose factory built it.
    """
    from zoo.registry import UnknownComponentError, components_with_factory, get_card

    card = ae.card
    try:
        registered = get_card("autoencoder", card.name)
    except UnknownComponentError:
        registered = None
    is_kl = isinstance(ae, KLAutoencoder)
    if is_kl and card.factory == KL_FACTORY:
        ok = registered is not None and registered.factory == KL_FACTORY
        return ({"name": registered.name, "version": registered.version} if ok else None), live_config(ae)
    if registered is not None and registered.factory == card.factory:
        return {"name": registered.name, "version": registered.version}, dict(card.config)
    if is_kl:
        return None, live_config(ae)
    same = components_with_factory("autoencoder", card.factory)
    if not same:
        raise WeightsError(f"cannot save autoencoder {card.name!r}: its factory {card.factory!r} belongs to no "
                           "installed component, so a saved folder could not name what rebuilds it")
    return {"name": same[0].name, "version": same[0].version}, dict(card.config)


def save_autoencoder(ae: Autoencoder, folder: str | os.PathLike) -> Path:
    """Write ``ae`` as a saved-autoencoder folder (``zoo_autoencoder.json`` + ``autoencoder.safetensors``).

    The folder appears atomically; diffusers key names are used for KL autoencoders.
    """
    from safetensors.torch import save_file

    from zoo.folders.atomic import atomic_dir

    payload = card_payload(ae)
    module = ae.vae if isinstance(ae, KLAutoencoder) else ae
    tensors = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        tmp = Path(tmp)
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        (tmp / CARD_FILE).write_text(payload)
    return folder


def card_payload(ae: Autoencoder) -> str:
    """The text of ``ae``'s ``zoo_autoencoder.json`` (format 2), checked against the schema that opening uses."""
    from zoo import __version__

    if ae.card is None:
        raise ValueError("save_autoencoder needs an autoencoder with a card (ae.card is None)")
    component, config = architecture(ae)
    card = {k: v for k, v in ae.card.to_dict().items() if k not in ("kind", "factory")}
    card["config"] = config
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "zoo_version": __version__,
               "component": component, "card": card}
    validate(json.loads(json.dumps(payload, default=str)), _schema(FORMAT_VERSION), CARD_FILE)
    return json.dumps(payload, indent=2, default=str) + "\n"


def save_pipeline_autoencoder(ae: Autoencoder, folder: str | os.PathLike) -> str:
    """Write ``ae`` as the folder ``folder`` (diffusers layout for an ``AutoencoderKL``, else zoo's); returns the
    name of its weights file. The folder appears atomically."""
    from zoo.folders.atomic import atomic_dir

    if not is_diffusers_kl(ae):
        save_autoencoder(ae, folder)
        return WEIGHTS_FILE
    payload = card_payload(ae)
    with atomic_dir(Path(folder)) as tmp:
        tmp = Path(tmp)
        ae.vae.save_pretrained(tmp, safe_serialization=True)
        written = sorted(p.name for p in tmp.iterdir())
        if written != sorted([DIFFUSERS_CONFIG, DIFFUSERS_WEIGHTS]):
            raise WeightsError(f"AutoencoderKL.save_pretrained wrote {written}, expected {DIFFUSERS_CONFIG} and "
                               f"{DIFFUSERS_WEIGHTS} (a sharded VAE cannot be saved in a pipeline folder)")
        (tmp / CARD_FILE).write_text(payload)
    return DIFFUSERS_WEIGHTS
