"""Build components from registered names, cards or ready objects (timm-style ``create_model``)."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from zoo.cards import Card, DenoiserCard, denoiser_arguments
from zoo.errors import MissingWeightsError
from zoo.registry import get_card, load_factory
from zoo.utils.random_init import mark_random_init

__all__ = [
    "WeightSource", "build_autoencoder", "build_backend", "build_denoiser", "build_sampler", "default_denoiser",
    "denoiser_arguments", "weight_source",
]


class WeightSource(NamedTuple):
    """Where a component's weights come from, and the sha256 they must have (None: not checked)."""

    source: Any
    sha256: str | None = None


def weight_source(card: Card, weights: Any, pretrained: bool) -> WeightSource | None:
    """The weights to load: explicit ``weights`` (unchecked) > the card's default with the card's sha256
    (if ``pretrained``) > none.

    Never falls back silently to random weights: ``pretrained=True`` on a card without a default
    weight source is an error.
    """
    if weights is not None:
        return WeightSource(weights)
    if not pretrained:
        return None
    default = getattr(card, "weights", None)
    if default is None:
        raise MissingWeightsError(
            f"{card.kind} {card.name!r} has no default weights: pass weights=PATH "
            f"(see `zoo info {card.name}`), or pretrained=False for random weights"
        )
    return WeightSource(default, getattr(card, "sha256", None))


def build_autoencoder(name: Any, weights: Any = None, pretrained: bool = True, **overrides: Any):
    """A :class:`zoo.Autoencoder` from a name, alias, ``distribution:name``, card, built module, or a path
    (saved-autoencoder folder, diffusers folder, or checkpoint file whose architecture is inferred).

    ``overrides`` change the factory's config (e.g. a smaller architecture for tests); the card's default
    weights fit only its own config, so overriding the architecture needs ``pretrained=False`` (or ``weights=``).
    """
    import torch

    from zoo.autoencoders.kl import as_autoencoder

    if isinstance(name, torch.nn.Module):
        return as_autoencoder(name)
    if _is_path(name):
        from zoo.autoencoders.loading import autoencoder_from_path

        if weights is not None or overrides:
            raise ValueError(f"build_autoencoder({str(name)!r}): a path carries its own weights and config; "
                             "pass weights=/overrides only with a registered name")
        return autoencoder_from_path(name)
    card = get_card("autoencoder", name)
    source = weight_source(card, weights, pretrained)
    config = {**card.config, **overrides}
    if overrides:  # the card says what was built: a saved folder rebuilds it from the card's config
        card = dataclasses.replace(card, config=config)
    model = as_autoencoder(load_factory(card)(**config), card)
    if overrides:
        model.card = _card_with_geometry(model.card, model)
    if source is not None:
        from zoo.autoencoders.state import StateDictMismatchError, load_autoencoder_weights

        try:
            load_autoencoder_weights(model, source.source, source.sha256)
        except StateDictMismatchError as err:
            if weights is not None or not overrides:
                raise
            raise StateDictMismatchError(f"autoencoder {card.name!r}: {_OVERRIDE_HINT} ({err})") from None
    else:
        mark_random_init(model)
    return model.eval()


def _card_with_geometry(card: Any, model: Any) -> Any:
    """``card`` with the channel counts and downsample factor of the module built from overridden config
    (``in_channels: 1`` on a 3-channel card builds a 1-channel VAE; its inputs must not be replicated)."""
    fields = ("in_channels", "latent_channels", "downsample_factor")
    built = {f: int(getattr(model, f)) for f in fields if getattr(model, f, None) is not None}
    changed = {f: v for f, v in built.items() if getattr(card, f) != v}
    return dataclasses.replace(card, **changed) if changed else card


def _is_path(name: Any) -> bool:
    """True for a string that is clearly a path (separator or weight suffix), or an existing unregistered one."""
    import os

    if isinstance(name, os.PathLike):
        return True
    if not isinstance(name, str) or name.startswith("hf:"):
        return False
    if "/" in name or os.sep in name or name.endswith((".ckpt", ".safetensors", ".pt", ".pth", ".bin")):
        return True
    from zoo.registry import UnknownComponentError

    try:  # a registered name wins over a same-named folder in the working directory
        get_card("autoencoder", name)
        return False
    except UnknownComponentError:
        return os.path.exists(name)


def build_denoiser(name: Any, weights: Any = None, pretrained: bool = True, **config: Any):
    """A latent denoiser (``nn.Module``) from a name, card or built module.

    The factory gets :func:`denoiser_arguments` (``prediction_type``, the card's ``latent_channels``, the card's
    config, then ``config``). ``pretrained=True`` loads the card's default weights, checked against the card's
    ``sha256``; they must fit: a ``latent_channels`` other than the card's is refused before loading. Weights that
    do not fit the built network are one :class:`~zoo.autoencoders.state.StateDictMismatchError` line.
    Overriding the architecture (``config``) needs ``pretrained=False`` or ``weights=`` that fit it.
    """
    import torch

    if isinstance(name, torch.nn.Module):
        return name
    card = get_card("denoiser", name)
    source = weight_source(card, weights, pretrained)
    arguments = denoiser_arguments(card, **config)
    if source is not None and weights is None:
        _check_default_fits(card, arguments)
    model = load_factory(card)(**arguments)
    model.card = card
    if source is not None:
        from zoo.autoencoders.state import load_strict
        from zoo.weights import load_state_dict

        load_strict(model, load_state_dict(source.source, source.sha256),
                    _weights_label(card, source, weights, bool(config)))
    else:
        mark_random_init(model)
    return model.eval()


def _check_default_fits(card: DenoiserCard, arguments: dict[str, Any]) -> None:
    """Refuse, before loading, the card's default weights for a latent channel count they do not fit."""
    wanted = arguments.get("latent_channels")
    if card.latent_channels is not None and wanted is not None and wanted != card.latent_channels:
        from zoo.autoencoders.state import StateDictMismatchError

        raise StateDictMismatchError(
            f"denoiser {card.name!r}: its default weights ({card.weights}) fit latent_channels={card.latent_channels}, "
            f"not latent_channels={wanted} (the autoencoder's); pair it with a {card.latent_channels}-channel "
            "autoencoder, pass weights= that fit, or pretrained=False for random weights")


def _weights_label(card: Card, source: WeightSource, weights: Any, overridden: bool) -> str:
    """How a strict-loading error names the weights (with the fix when the card's default met an override)."""
    what = f"{card.kind} {card.name!r} weights {source.source}"
    return f"{what} ({_OVERRIDE_HINT})" if weights is None and overridden else what


_OVERRIDE_HINT = "the card's default weights fit only the card's own config: pass pretrained=False to build an " \
                 "overridden architecture"


def default_denoiser(vae: Any, hr_size: int, denoiser: Any = "unet", *, weights: Any = None,
                     pretrained: bool = False, **config: Any):
    """A denoiser built for the autoencoder ``vae``: its latent channels, the latent size of ``hr_size``
    images (``sample_size``; the layout, e.g. where attention sits, follows it) and the card's
    prediction type. ``config`` overrides any of these and the card's config (e.g. ``preset="tiny"``).

    New random weights unless ``weights=`` or ``pretrained=True`` (the card's default weights).
    """
    card = get_card("denoiser", denoiser)
    derived = {"latent_channels": vae.latent_channels, "sample_size": hr_size // vae.downsample_factor,
               "prediction_type": card.prediction_type}
    return build_denoiser(card, weights=weights, pretrained=pretrained, **{**derived, **config})


def build_sampler(name: Any, **config: Any):
    """A sampler (callable with zoo's shared sampler signature) from a name, card or ``Sampler``."""
    from zoo.samplers.base import Sampler

    if isinstance(name, Sampler):
        return name.with_config(**config) if config else name
    card = get_card("sampler", name)
    return Sampler(card=card, fn=load_factory(card), config={**card.config, **config})


def build_backend(name: Any, **options: Any):
    """A runtime backend object from a name or card; ``options`` go to its factory."""
    if not isinstance(name, (str, Card)):
        return name
    card = get_card("backend", name)
    return load_factory(card)(**{**card.config, **options})
