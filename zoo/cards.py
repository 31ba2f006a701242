"""Component cards: light, pure-data descriptions of registered components.

A card is what an entry point points to. It carries metadata and a lazy ``factory`` reference
(``"package.module:function"``) that is imported only when the component is built, so listing
components never imports torch or plugin code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
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
    "denoiser_arguments",
]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class CardError(ZooError, ValueError):
    """A card is invalid (bad name, missing field, wrong type)."""


def _error(card: Any, attr: str, expected: str, example: str, value: Any) -> CardError:
    """A :class:`CardError` naming the card, the field, what it takes (with an example) and what it got."""
    return CardError(f"card {getattr(card, 'name', '?')!r}: {attr} must be {expected}, e.g. {attr}={example}; "
                     f"got {value!r}")


def _coerce_strings(card: Card, attr: str) -> None:
    """A tuple field takes any sequence of strings (``["MR", "CT"]`` or ``("MR", "CT")``); stored as a tuple."""
    value = getattr(card, attr)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise _error(card, attr, "a list of strings", _EXAMPLES.get(attr, '["a", "b"]'), value)
    object.__setattr__(card, attr, tuple(value))


_EXAMPLES = {"aliases": '["medvae"]', "modality": '["MR", "CT"]', "devices": '["cpu", "cuda"]',
             "requires": '["onnxruntime"]'}


@dataclass(frozen=True)
class Card:
    """Fields every component card has.

    Tuple fields (``aliases``, ``modality``, ...) take any sequence of strings; ``source`` takes a
    dict of name -> URL (``{"paper": ..., "code": ...}``) or one URL string (stored as ``{"url": URL}``).
    """

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
        self._coerce()
        self.validate()

    def _coerce(self) -> None:
        """Accept what people write: sequences for tuple fields, a URL string for ``source``."""
        for f in fields(self):
            if str(f.type).startswith("tuple"):
                _coerce_strings(self, f.name)
        if isinstance(self.source, str):
            object.__setattr__(self, "source", {"url": self.source})
        elif isinstance(self.source, Mapping):
            object.__setattr__(self, "source", dict(self.source))
        if isinstance(self.config, Mapping):
            object.__setattr__(self, "config", dict(self.config))
        if isinstance(self.version, int) and not isinstance(self.version, bool):
            object.__setattr__(self, "version", str(self.version))
        if isinstance(getattr(self, "weights", None), os.PathLike):
            object.__setattr__(self, "weights", os.fspath(self.weights))

    def validate(self) -> None:
        """Raise :class:`CardError` naming the first problem found."""
        for attr, name in [("name", self.name)] + [("aliases", a) for a in self.aliases]:
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise _error(self, attr, "lower-case letters, digits, '-', '.' or '_'",
                             '"my-vae"' if attr == "name" else '["my-alias"]', name)
        if not isinstance(self.factory, str) or not _FACTORY_RE.match(self.factory):
            raise _error(self, "factory", "a 'package.module:function' reference", '"my_plugin.model:build"',
                         self.factory)
        for attr in ("description", "license", "version"):
            if not isinstance(getattr(self, attr), str):
                raise _error(self, attr, "a string", _STR_EXAMPLES[attr], getattr(self, attr))
        if not isinstance(self.source, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.source.items()
        ):
            raise _error(self, "source", "a URL string or a dict of name -> URL",
                         '{"paper": "https://arxiv.org/abs/...", "code": "https://github.com/..."}', self.source)
        if not isinstance(self.config, dict):
            raise _error(self, "config", "a dict of factory keyword arguments", '{"block_out_channels": [32, 64]}',
                         self.config)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view of the card (tuples become lists)."""
        out = asdict(self)
        out["kind"] = self.kind
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


_STR_EXAMPLES = {"description": '"Small 1-channel autoencoder."', "license": '"MIT"', "version": '"2"'}


def _positive_int(card: Card, attr: str, example: str = "4") -> None:
    value = getattr(card, attr)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _error(card, attr, "a positive int", example, value)


def _check_weights(card: Card) -> None:
    weights = card.weights  # type: ignore[attr-defined]
    if weights is not None and (not isinstance(weights, str) or not weights):
        raise _error(card, "weights", "None or a weight source string",
                     '"hf:owner/repo/vae.safetensors" or "package:my_plugin/weights/vae.safetensors"', weights)


def _check_sha256(card: Card) -> None:
    sha256 = card.sha256  # type: ignore[attr-defined]
    if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha256)):
        raise _error(card, "sha256", "None or 64 lower-case hex digits (the output of `sha256sum FILE`)",
                     '"' + "0123456789abcdef" * 4 + '"', sha256)


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
        for attr, example in (("in_channels", "1"), ("latent_channels", "4"), ("downsample_factor", "8")):
            _positive_int(self, attr, example)
        if self.downsample_factor & (self.downsample_factor - 1):
            raise _error(self, "downsample_factor", "a power of two", "8", self.downsample_factor)
        if self.intensity not in ("minmax", "fixed"):
            raise _error(self, "intensity", "'minmax' or 'fixed'", '"minmax"', self.intensity)
        _check_sha256(self)
        if not isinstance(self.fp16_safe, bool):
            raise _error(self, "fp16_safe", "True or False", "True", self.fp16_safe)
        _check_weights(self)


@dataclass(frozen=True)
class DenoiserCard(Card):
    """A latent denoiser architecture; channels follow the autoencoder it is paired with.

    ``weights`` (default weights, like an autoencoder's) are checked against ``sha256`` when loaded;
    ``latent_channels`` is the latent channel count they fit (checked before loading them; None: not stated).
    """

    kind: ClassVar[str] = "denoiser"

    prediction_type: str = "x0"
    weights: str | None = None
    sha256: str | None = None
    latent_channels: int | None = None

    def validate(self) -> None:
        super().validate()
        if self.prediction_type not in ("x0", "eps", "v"):
            raise _error(self, "prediction_type", "'x0', 'eps' or 'v'", '"x0"', self.prediction_type)
        _check_weights(self)
        _check_sha256(self)
        if self.latent_channels is not None:
            _positive_int(self, "latent_channels", "4")


def denoiser_arguments(card: DenoiserCard, **config: Any) -> dict[str, Any]:
    """The keyword arguments :func:`zoo.factory.build_denoiser` calls the card's factory with: ``prediction_type``
    (the card's), ``latent_channels`` (the card's, when it states it), then the card's ``config``, then ``config``.
    ``sample_size`` is passed only by :func:`zoo.factory.default_denoiser`, which knows the autoencoder and
    ``hr_size``."""
    known = {"prediction_type": card.prediction_type}
    if card.latent_channels is not None:
        known["latent_channels"] = card.latent_channels
    return {**known, **card.config, **config}


@dataclass(frozen=True)
class SamplerCard(Card):
    """A sampler: a plain function with zoo's shared sampler signature."""

    kind: ClassVar[str] = "sampler"

    default_steps: int = 50

    def validate(self) -> None:
        super().validate()
        _positive_int(self, "default_steps", "50")


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
