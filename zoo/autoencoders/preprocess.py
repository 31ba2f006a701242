"""Pixel-space adaptation between the API edge ([0, 1], any channel count) and an autoencoder's input.

The card decides: ``in_channels`` (grayscale is replicated for 3-channel models, the output is
averaged back) and ``intensity`` (``"minmax"``: per-image min-max to [0, 1] as MedVAE's loader does;
``"fixed"``: the [0, 1] input is used as is, like the paper's code).
"""

from __future__ import annotations

import torch

from zoo.cards import AutoencoderCard

__all__ = ["from_model_output", "minmax", "to_model_input"]


def _card(card_or_ae) -> AutoencoderCard:
    card = card_or_ae if isinstance(card_or_ae, AutoencoderCard) else getattr(card_or_ae, "card", None)
    if card is None:
        raise ValueError("need an AutoencoderCard or an autoencoder with a card")
    return card


def minmax(x: torch.Tensor, eps: float = 1e-8, range_from: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image min-max scaling of B x C x H x W to [0, 1] (constant images become 0).

    ``range_from`` (same batch size, any shape) supplies each image's min and max instead of ``x``.
    """
    flat = (x if range_from is None else range_from).flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1, 1)
    return (x - lo) / (hi - lo).clamp_min(eps)


def to_model_input(x01: torch.Tensor, card_or_ae, range_from: torch.Tensor | None = None) -> torch.Tensor:
    """B x C x H x W in [0, 1] -> B x in_channels x H x W in [-1, 1] for the card's autoencoder.

    C must be 1 or ``in_channels``; a 1-channel image is replicated, a C-channel image fed to a
    1-channel model is averaged. A ``minmax`` card scales by the per-image range of ``range_from``
    when given (e.g. an HR image by its paired LR's range), else of the image itself.
    """
    card = _card(card_or_ae)
    if x01.ndim != 4:
        raise ValueError(f"{card.name}: expected B x C x H x W, got shape {tuple(x01.shape)}")
    c, want = x01.shape[1], card.in_channels
    if c != want:
        if c == 1:
            x01 = x01.expand(-1, want, -1, -1)
        elif want == 1:
            x01 = x01.mean(dim=1, keepdim=True)
        else:
            raise ValueError(f"{card.name}: cannot map {c} image channels to the model's {want}")
    if card.intensity == "minmax":
        x01 = minmax(x01, range_from=range_from)
    return x01 * 2 - 1


def from_model_output(x: torch.Tensor, channels: int = 1) -> torch.Tensor:
    """Decoder output in [-1, 1] -> [0, 1], clamped, with ``channels`` channels (the channel mean if 1; a
    1-channel output is copied to each channel, never an expanded view that an in-place op would refuse)."""
    y = ((x + 1) / 2).clamp(0, 1)
    if y.shape[1] == channels:
        return y
    if channels == 1:
        return y.mean(dim=1, keepdim=True)
    if y.shape[1] == 1:
        return y.repeat(1, channels, 1, 1)
    raise ValueError(f"cannot map {y.shape[1]} decoded channels to {channels}")
