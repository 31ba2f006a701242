"""zoo's numeric ``ZOO_*`` environment variables, parsed in one place.

Each is a positive whole number; ``1e8`` style is accepted only when it is an exact integer >= 1.
A bad value is a :class:`EnvVarError`: one line naming the variable, its value and the expected form.
The command lines check every variable in :data:`NUMERIC_VARS` before any work (:func:`check_environment`).
"""

from __future__ import annotations

import math
import os
import re

from zoo.errors import ZooError

__all__ = ["NUMERIC_VARS", "EnvVarError", "check_environment", "env_int", "parse_positive_int"]

NUMERIC_VARS: dict[str, str] = {
    "ZOO_MAX_IMAGE_PIXELS": "a positive whole number of pixels, or 0 / none / off for no cap",
    "ZOO_HUB_TIMEOUT": "a positive whole number of seconds",
}
"""Every numeric variable zoo reads -> the expected form shown in its error."""
OFF_ALLOWED = frozenset({"ZOO_MAX_IMAGE_PIXELS"})
"""The variables for which 0 / none / off means "no limit"."""

_OFF_WORDS = ("0", "none", "off")
_INTEGER = re.compile(r"[+]?\d[\d_]*")
_FLOAT = re.compile(r"[+]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


class EnvVarError(ZooError, ValueError):
    """A ``ZOO_*`` environment variable holds a value zoo cannot use."""


def parse_positive_int(text: str) -> int | None:
    """``text`` as a positive integer (``"1e8"`` only if exact and >= 1); ``None`` if it is not one."""
    text = text.strip()
    if _INTEGER.fullmatch(text):
        value = int(text.replace("_", ""))
        return value if value >= 1 else None
    if _FLOAT.fullmatch(text):
        number = float(text)
        if math.isfinite(number) and number >= 1 and number.is_integer():
            return int(number)
    return None


def env_int(name: str, default: int | None, allow_off: bool = False) -> int | None:
    """The positive integer in environment variable ``name`` (``default`` when unset or empty).

    ``allow_off``: ``0``, ``none`` or ``off`` mean "no limit" and give ``None``.
    Raises :class:`EnvVarError` for anything else that is not a positive finite whole number.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if allow_off and raw.lower() in _OFF_WORDS:
        return None
    value = parse_positive_int(raw)
    if value is None:
        expected = NUMERIC_VARS.get(name, "a positive whole number")
        raise EnvVarError(f"environment variable {name}={raw!r}: expected {expected}")
    return value


def check_environment() -> None:
    """Parse every numeric ``ZOO_*`` variable now, so a bad value stops a command before any work."""
    for name in NUMERIC_VARS:
        env_int(name, None, allow_off=name in OFF_ALLOWED)
