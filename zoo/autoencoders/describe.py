"""Facts about an autoencoder card for ``zoo info``: geometry, parameter count, licence, weight status."""

from __future__ import annotations

from typing import Any

from zoo.cards import AutoencoderCard

__all__ = ["count_parameters", "describe_autoencoder", "weight_status"]


def count_parameters(card: AutoencoderCard) -> int:
    """Parameter count of the card's architecture, built on the ``meta`` device (no memory, no weights)."""
    import torch

    from zoo.registry import load_factory

    with torch.device("meta"):
        model = load_factory(card)(**card.config)
    return sum(p.numel() for p in model.parameters())


def weight_status(card: AutoencoderCard) -> str:
    """Whether the card's default weights are available locally (no network access)."""
    if card.weights is None:
        return "no default weights (pass weights=PATH)"
    from zoo.weights import cached_path

    path = cached_path(card.weights)
    return f"available locally: {path}" if path is not None else f"not downloaded ({card.weights})"


def describe_autoencoder(card: AutoencoderCard, size: int = 256) -> dict[str, Any]:
    """Geometry at ``size`` x ``size``, parameter count and weight status (licence and sources are on the card)."""
    f = card.downsample_factor
    out: dict[str, Any] = {
        "geometry": (f"{card.in_channels}x{size}x{size} -> {card.latent_channels}x{size // f}x{size // f} "
                     f"(downsample {f}, compression {card.in_channels * f * f / card.latent_channels:g}x)"),
        "weight_status": weight_status(card),
    }
    try:
        out["parameters"] = f"{count_parameters(card):,}"
    except Exception as err:  # a plugin factory may not support meta construction
        out["parameters"] = f"unknown ({type(err).__name__}: {err})"
    return out
