"""PEP 562 lazy exports: a package's public names load from their submodules on first use."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, where ``names`` maps each name to its module."""
    module = sys.modules[package]

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(target), name)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(getattr(module, "__all__", ())) | set(names))

    return __getattr__, __dir__
