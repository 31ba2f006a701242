"""Facts about an autoencoder or denoiser card for ``zoo info``: geometry, parameter count, weight status."""

from __future__ import annotations

from typing import Any

from zoo.cards import AutoencoderCard, Card, DenoiserCard

__all__ = ["count_parameters", "describe_autoencoder", "describe_denoiser", "weight_status"]


def count_parameters(card: AutoencoderCard) -> int:
    """Parameter count of the card's architecture, built on the ``meta`` device (no memory, no weights)."""
    import torch

    from zoo.registry import load_factory

    with torch.device("meta"):
        model = load_factory(card)(**card.config)
    return sum(p.numel() for p in model.parameters())


def weight_status(card: Card) -> str:
    """Whether the card's default weights are available locally (no network access), and if not, why."""
    weights = getattr(card, "weights", None)
    if weights is None:
        return "no default weights (pass weights=PATH)"
    from zoo.weights import ASSET_PREFIX, PACKAGE_PREFIX, WeightsError, cached_path

    try:
        path = cached_path(weights)
    except WeightsError as err:  # e.g. a package: source whose package is not installed
        return f"not available ({err})"
    if path is not None:
        return f"available locally: {path}"
    if weights.startswith("hf:"):
        return f"not downloaded ({weights})"
    if weights.startswith(PACKAGE_PREFIX):
        return f"missing from the installed package ({weights}: not in its package data?)"
    if weights.startswith(ASSET_PREFIX):
        return f"not made ({weights}: `make weights`)"
    return f"file not found ({weights})"


def describe_denoiser(card: DenoiserCard) -> dict[str, Any]:
    """Parameter count (at the card's latent channel count, else the factory's default) and weight status."""
    from zoo.cards import denoiser_arguments

    out: dict[str, Any] = {"weight_status": weight_status(card)}
    out["parameters"] = _parameters(card, denoiser_arguments(card))
    return out


def _parameters(card: Card, arguments: dict[str, Any]) -> str:
    """The parameter count of the card's network built on the ``meta`` device, or why it is unknown."""
    import torch

    from zoo.registry import load_factory

    try:
        with torch.device("meta"):
            model = load_factory(card)(**arguments)
        return f"{sum(p.numel() for p in model.parameters()):,}"
    except Exception as err:  # a plugin factory may not support meta construction
        return f"unknown ({type(err).__name__}: {err})"


def describe_autoencoder(card: AutoencoderCard, size: int = 256) -> dict[str, Any]:
    """Geometry at ``size`` x ``size``, parameter count and weight status (licence and sources are on the card)."""
    f = card.downsample_factor
    out: dict[str, Any] = {
        "geometry": (f"{card.in_channels}x{size}x{size} -> {card.latent_channels}x{size // f}x{size // f} "
                     f"(downsample {f}, compression {card.in_channels * f * f / card.latent_channels:g}x)"),
        "weight_status": weight_status(card),
    }
    out["parameters"] = _parameters(card, card.config)
    return out
