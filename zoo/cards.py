"""Component cards: light, pure-data descriptions of registered components.

A card is what an entry point points to. It carries metadata and a lazy ``factory`` reference
(``"package.module:function"``) that is imported only when the component is built, so listing
components never imports torch or plugin code.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from zoo.errors import ZooError

__all__ = [
    "AutoencoderCard",
    "BackendCard",
    "Card",
    "CardError",
    "DenoiserCard",
    "SamplerCard",
    "KINDS",
]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class CardError(ZooError, ValueError):
    """A card is invalid (bad name, missing field, wrong type)."""


@dataclass(frozen=True)
class Card:
    """Fields every component card has."""

    kind: ClassVar[str] = ""

    name: str
    factory: str
    description: str = ""
    license: str = ""
    source: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    version: str = "1"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`CardError` naming the first problem found."""
        for name in (self.name, *self.aliases):
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise CardError(f"card name {name!r} must be lower-case letters, digits, '-', '.' or '_'")
        if not isinstance(self.factory, str) or not _FACTORY_RE.match(self.factory):
            raise CardError(f"card {self.name!r}: factory {self.factory!r} must look like 'package.module:function'")
        if not isinstance(self.source, dict) or not all(isinstance(v, str) for v in self.source.values()):
            raise CardError(f"card {self.name!r}: source must be a dict of name -> URL strings")
        if not isinstance(self.config, dict):
            raise CardError(f"card {self.name!r}: config must be a dict")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view of the card (tuples become lists)."""
        out = asdict(self)
        out["kind"] = self.kind
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _positive_int(card: Card, attr: str) -> None:
    value = getattr(card, attr)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CardError(f"card {card.name!r}: {attr} must be a positive int, got {value!r}")


@dataclass(frozen=True)
class AutoencoderCard(Card):
    """An autoencoder: geometry, preprocessing, provenance and default weights."""

    kind: ClassVar[str] = "autoencoder"

    in_channels: int = 3
    latent_channels: int = 4
    downsample_factor: int = 8
    modality: tuple[str, ...] = ()
    weights: str | None = None
    sha256: str | None = None
    intensity: str = "minmax"
    fp16_safe: bool = False

    def validate(self) -> None:
        super().validate()
        for attr in ("in_channels", "latent_channels", "downsample_factor"):
            _positive_int(self, attr)
        if self.downsample_factor & (self.downsample_factor - 1):
            raise CardError(f"card {self.name!r}: downsample_factor must be a power of two")
        if self.intensity not in ("minmax", "fixed"):
            raise CardError(f"card {self.name!r}: intensity must be 'minmax' or 'fixed'")
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise CardError(f"card {self.name!r}: sha256 must be 64 lower-case hex digits")
        if not isinstance(self.modality, tuple):
            raise CardError(f"card {self.name!r}: modality must be a tuple of strings")


@dataclass(frozen=True)
class DenoiserCard(Card):
    """A latent denoiser architecture; channels follow the autoencoder it is paired with."""

    kind: ClassVar[str] = "denoiser"

    prediction_type: str = "x0"
    weights: str | None = None

    def validate(self) -> None:
        super().validate()
        if self.prediction_type not in ("x0", "eps", "v"):
            raise CardError(f"card {self.name!r}: prediction_type must be 'x0', 'eps' or 'v'")


@dataclass(frozen=True)
class SamplerCard(Card):
    """A sampler: a plain function with zoo's shared sampler signature."""

    kind: ClassVar[str] = "sampler"

    default_steps: int = 50

    def validate(self) -> None:
        super().validate()
        _positive_int(self, "default_steps")


@dataclass(frozen=True)
class BackendCard(Card):
    """A runtime backend that runs the encode / denoise / decode stages."""

    kind: ClassVar[str] = "backend"

    devices: tuple[str, ...] = ("cpu",)
    requires: tuple[str, ...] = ()


KINDS: dict[str, type[Card]] = {
    "autoencoder": AutoencoderCard,
    "denoiser": DenoiserCard,
    "sampler": SamplerCard,
    "backend": BackendCard,
}
