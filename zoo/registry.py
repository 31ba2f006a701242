"""Entry-point discovery of zoo components, name resolution and plugin error isolation.

Every component (zoo's built-ins included) is registered through a Python entry point in one of
the groups of :data:`GROUPS`; the entry point's value is a card (:mod:`zoo.cards`). Discovery
imports only the card modules, never the factories. A plugin that fails to import, or whose card is
invalid, is recorded with its error and never stops the others (``ZOO_STRICT_PLUGINS=1`` raises).
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import importlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, NamedTuple

from zoo.cards import KINDS, Card, CardError
from zoo.errors import ZooError

__all__ = [
    "GROUPS",
    "ComponentInfo",
    "DuplicateComponentError",
    "PluginError",
    "UnknownComponentError",
    "components_with_factory",
    "get_card",
    "installed_card",
    "not_installed",
    "list_components",
    "is_distribution_name",
    "is_version",
    "provider",
    "Provider",
    "load_factory",
    "register",
    "refresh",
    "resolve",
]

GROUPS: dict[str, str] = {
    "autoencoder": "zoo.autoencoders",
    "denoiser": "zoo.denoisers",
    "sampler": "zoo.samplers",
    "backend": "zoo.backends",
}
LOCAL_DISTRIBUTION = "__local__"
_DIST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")


class Provider(NamedTuple):
    """The installed distribution that provides a component, and its version ("" if unknown)."""

    distribution: str
    version: str = ""

    @property
    def requirement(self) -> str:
        """``dist==version`` (or ``dist``), the argument of ``pip install``."""
        return f"{self.distribution}=={self.version}" if self.version else self.distribution

    @property
    def pip_install(self) -> str:
        return f"pip install '{self.requirement}'"


def is_distribution_name(name: object) -> bool:
    """True for a valid distribution name (PEP 508), e.g. ``zoo-example-ae``."""
    return isinstance(name, str) and bool(_DIST_RE.match(name))


def is_version(text: object) -> bool:
    """True for a plausible version string (PEP 440 characters only), e.g. ``0.1.0``."""
    return isinstance(text, str) and bool(_VERSION_RE.match(text))


class PluginError(ZooError, RuntimeError):
    """A plugin could not be loaded (import error or invalid card)."""


class UnknownComponentError(ZooError, LookupError):
    """No registered component has the requested name."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])


class DuplicateComponentError(ZooError, LookupError):
    """Two distributions register the same name; use ``distribution:name``."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ComponentInfo:
    """One registered component as discovered: its card, or the error that replaced it."""

    kind: str
    name: str
    distribution: str
    version: str
    card: Card | None = None
    error: str | None = None
    entry_point: str = ""

    @property
    def ok(self) -> bool:
        return self.card is not None and self.error is None

    @property
    def qualified_name(self) -> str:
        return f"{self.distribution}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.entry_point,
            "error": self.error,
            "card": self.card.to_dict() if self.card is not None else None,
        }


_discovered: dict[str, list[ComponentInfo]] = {}
_local: dict[str, list[ComponentInfo]] = {kind: [] for kind in GROUPS}
_installed_entry_points: list[Any] = []
"""Every installed entry point, read in one scan of the installed distributions (``entry_points(group=...)``
scans every distribution's metadata again for each group); emptied by :func:`refresh`."""


def _group_entry_points(group: str) -> list[Any]:
    """The installed entry points of ``group`` (one of :data:`GROUPS`), selected from the one shared scan."""
    if not _installed_entry_points:
        _installed_entry_points.append(entry_points())
    return list(_installed_entry_points[0].select(group=group))



def _strict() -> bool:
    return os.environ.get("ZOO_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes", "on")


def _normalise_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@contextlib.contextmanager
def plugin_stdout_to_stderr() -> Iterator[None]:
    """While plugin code runs (its import), send what it prints to stderr: zoo's stdout stays machine-readable."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


_dist_names: dict[int, tuple[str, str]] = {}
"""(name, version) of each distribution met, by ``id`` of its object (kept alive by the entry points it lists):
each ``dist.name`` / ``dist.version`` parses the distribution's METADATA file again."""


def _dist_identity(dist: Any) -> tuple[str, str]:
    """(name, version) of the distribution ``dist`` of an entry point, its METADATA parsed once."""
    if id(dist) not in _dist_names:
        metadata = dist.metadata
        _dist_names[id(dist)] = (metadata["Name"], metadata["Version"])
    return _dist_names[id(dist)]


def _load_entry_point(kind: str, ep: Any) -> ComponentInfo:
    dist = getattr(ep, "dist", None)
    dist_name, version = _dist_identity(dist) if dist is not None else ("unknown", "")
    base = dict(kind=kind, name=ep.name, distribution=dist_name, version=version, entry_point=ep.value)
    try:
        with plugin_stdout_to_stderr():
            card = ep.load()
    except Exception as err:  # a broken plugin must never break zoo for the others
        return ComponentInfo(**base, error=f"cannot import {ep.value!r}: {type(err).__name__}: {err}")
    expected = KINDS[kind]
    if not isinstance(card, expected):
        return ComponentInfo(
            **base, error=f"entry point {ep.value!r} is a {type(card).__name__}, not a zoo.{expected.__name__}"
        )
    try:
        card.validate()
    except CardError as err:
        return ComponentInfo(**base, error=f"invalid card: {err}")
    if card.name != ep.name:
        return ComponentInfo(
            **base, error=f"invalid card: entry point name {ep.name!r} differs from card name {card.name!r}"
        )
    return ComponentInfo(**base, card=card)


def _discover(kind: str) -> list[ComponentInfo]:
    if kind not in _discovered:
        seen: set[tuple[str, str, str]] = set()
        infos = []
        for ep in _group_entry_points(GROUPS[kind]):
            dist = getattr(ep, "dist", None)
            key = (ep.name, ep.value, _normalise_dist(_dist_identity(dist)[0]) if dist is not None else "")
            if key in seen:  # stale egg-info / editable installs can list an entry point twice
                continue
            seen.add(key)
            infos.append(_load_entry_point(kind, ep))
        _discovered[kind] = infos
    infos = _discovered[kind] + _local[kind]
    if _strict():
        failed = [i for i in infos if not i.ok]
        if failed:
            details = "; ".join(f"{i.qualified_name}: {i.error}" for i in failed)
            raise PluginError(f"ZOO_STRICT_PLUGINS is set and {len(failed)} {kind} plugin(s) failed: {details}")
        _check_duplicates(kind, infos)
    return infos


def _check_duplicates(kind: str, infos: list[ComponentInfo]) -> None:
    by_name: dict[str, set[str]] = {}
    for info in infos:
        if info.ok:
            by_name.setdefault(info.name, set()).add(info.distribution)
    for name, dists in by_name.items():
        if len(dists) > 1:
            raise DuplicateComponentError(_duplicate_message(kind, name, sorted(dists)))


def _duplicate_message(kind: str, name: str, dists: list[str]) -> str:
    qualified = " or ".join(f"'{d}:{name}'" for d in dists)
    return (
        f"{kind} name {name!r} is registered by several distributions ({', '.join(dists)}); "
        f"choose one with its qualified name: {qualified}"
    )


def refresh() -> None:
    """Forget discovered entry points (after installing or removing a plugin in-process)."""
    _discovered.clear()
    _installed_entry_points.clear()
    _dist_names.clear()


def register(card: Card, distribution: str = LOCAL_DISTRIBUTION, override: bool = False) -> ComponentInfo:
    """Register a card in this process only (notebooks, tests, scripts).

    A name already registered raises unless ``override=True``; the check happens before anything
    is changed, so a failed registration leaves the registry as it was.
    """
    if not isinstance(card, Card) or not card.kind:
        raise TypeError(f"register() takes a zoo card, got {type(card).__name__}")
    card.validate()
    kind = card.kind
    clashes = [i for i in _discover(kind) if i.ok and i.name == card.name]
    if clashes and not override:
        owners = ", ".join(sorted({i.distribution for i in clashes}))
        raise DuplicateComponentError(
            f"{kind} {card.name!r} is already registered by {owners}; pass override=True to replace it in this process"
        )
    _local[kind] = [i for i in _local[kind] if i.name != card.name]
    info = ComponentInfo(kind=kind, name=card.name, distribution=distribution, version="", card=card)
    _local[kind].append(info)
    if override:
        _discovered[kind] = [i for i in _discovered.get(kind, []) if i.name != card.name]
    return info


def list_components(kind: str | None = None, pattern: str | None = None) -> list[ComponentInfo]:
    """All discovered components (failed plugins included, with their error), sorted.

    ``pattern`` is an fnmatch wildcard matched against names and aliases, e.g. ``'medvae-*'``.
    """
    kinds = [_check_kind(kind)] if kind else list(GROUPS)
    out = []
    for k in kinds:
        for info in _discover(k):
            names = [info.name, *(info.card.aliases if info.card else ())]
            if pattern is None or any(fnmatch.fnmatchcase(n, pattern) for n in names):
                out.append(info)
    return sorted(out, key=lambda i: (list(GROUPS).index(i.kind), i.name, i.distribution))


def _check_kind(kind: str) -> str:
    aliases = {"vae": "autoencoder", "autoencoders": "autoencoder", "denoisers": "denoiser",
               "samplers": "sampler", "backends": "backend"}
    kind = aliases.get(kind, kind)
    if kind not in GROUPS:
        raise ValueError(f"unknown component kind {kind!r}; choose from {', '.join(GROUPS)}")
    return kind


def resolve(kind: str, name: str) -> ComponentInfo:
    """Find one component by name, alias or qualified ``distribution:name``."""
    kind = _check_kind(kind)
    infos = _discover(kind)
    dist = None
    if ":" in name:
        dist, name = name.split(":", 1)
        infos = [i for i in infos if _normalise_dist(i.distribution) == _normalise_dist(dist)]
    exact = [i for i in infos if i.name == name]
    matches = exact or [i for i in infos if i.ok and name in i.card.aliases]
    good = [i for i in matches if i.ok]
    if not good:
        broken = [i for i in matches if not i.ok]
        if broken:
            raise PluginError(f"{kind} {broken[0].qualified_name} failed to load: {broken[0].error}")
        known = sorted({n for i in _discover(kind) if i.ok for n in (i.name, *i.card.aliases)})
        hint = difflib.get_close_matches(name, known, n=3)
        where = f" in distribution {dist!r}" if dist else ""
        suggestion = f"; did you mean {', '.join(hint)}?" if hint else f"; known: {', '.join(known) or 'none'}"
        raise UnknownComponentError(f"no {kind} named {name!r}{where}{suggestion} (see `zoo list --kind {kind}`)")
    dists = sorted({i.distribution for i in good})
    if len(dists) > 1:
        raise DuplicateComponentError(_duplicate_message(kind, good[0].name, dists))
    return good[0]


def get_card(kind: str, name: str | Card) -> Card:
    """The card for a name, alias or qualified name; a card passes through unchanged."""
    if isinstance(name, Card):
        return name
    card = resolve(kind, name).card
    assert card is not None
    return card


def installed_card(kind: str, name: str, where: str, needs: Provider | None = None) -> Card:
    """The registered card that a folder names by ``name``; ``where`` says where the name was read.

    An unknown name is one line naming it and listing the installed components of that kind (and, if the
    folder recorded it, the distribution ``needs`` to install): a folder is data, so nothing it names is
    ever imported; only registered components are built.
    """
    try:
        return get_card(kind, name)
    except UnknownComponentError:
        raise not_installed(kind, name, where, needs) from None


def not_installed(kind: str, name: str, where: str, needs: Provider | None = None) -> UnknownComponentError:
    """The one-line error for a folder naming ``name``, which is no installed component of ``kind``."""
    kind = _check_kind(kind)
    installed = sorted(i.name for i in _discover(kind) if i.ok)
    how = (f"it comes from {needs.distribution} {needs.version}".rstrip() + f": {needs.pip_install}"
           if needs is not None else "a folder made with a plugin needs that plugin installed")
    return UnknownComponentError(
        f"{where}: no {kind} named {name!r} is installed (installed: {', '.join(installed) or 'none'}); {how}"
    )


def provider(kind: str, card: Card) -> Provider | None:
    """The installed distribution that registers ``card`` (matched by name and factory), or None for a card
    registered in this process only (:func:`register`) or not registered at all."""
    for info in _discover(_check_kind(kind)):
        if info.ok and info.card is not None and info.name == card.name and info.card.factory == card.factory:
            if info.distribution in (LOCAL_DISTRIBUTION, "unknown"):
                return None
            return Provider(info.distribution, info.version)
    return None


def components_with_factory(kind: str, factory: str) -> list[Card]:
    """The registered cards (sorted by name) whose factory is ``factory``."""
    return [i.card for i in list_components(kind) if i.ok and i.card is not None and i.card.factory == factory]


def load_factory(card: Card) -> Any:
    """Import the object that ``card.factory`` names (``'package.module:attr'``)."""
    module_name, _, attr = card.factory.partition(":")
    try:
        with plugin_stdout_to_stderr():
            obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise PluginError(f"{card.kind} {card.name!r}: cannot load factory {card.factory!r}: {err}") from err
    return obj
