"""zoo's one error family: every error zoo raises on purpose is a :class:`ZooError`.

Each concrete error also keeps its standard base (``ValueError``, ``RuntimeError``, ...), so code
that catches those still works; a CLI catches ``ZooError`` and prints its message as one line.
"""

from __future__ import annotations

__all__ = ["MissingWeightsError", "ZooError"]


class ZooError(Exception):
    """Base of every error zoo raises on purpose (bad input, bad files, bad options, missing parts)."""


class MissingWeightsError(ZooError, ValueError):
    """A component was asked for pretrained weights but its card names no default weight source."""
