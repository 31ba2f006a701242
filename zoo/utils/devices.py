"""The device a command runs on: ``auto`` (the default of every command) is CUDA when available, else the CPU."""

from __future__ import annotations

import logging

from zoo.errors import ZooError

__all__ = ["AUTO", "DEVICE_HELP", "DeviceError", "resolve_device"]

AUTO = "auto"
DEVICE_HELP = "torch device: auto (cuda if available, else cpu), cpu, cuda or cuda:N."

logger = logging.getLogger(__name__)


class DeviceError(ZooError, ValueError):
    """A device that is not a torch device, or CUDA asked for where there is none."""


def resolve_device(requested: str | None = AUTO) -> str:
    """``requested`` as a torch device string; ``auto`` (or ``None``) picks ``cuda`` when available, else ``cpu``."""
    import torch

    value = (requested or AUTO).strip().lower()
    if value == AUTO:
        chosen = "cuda" if torch.cuda.is_available() else "cpu"
        logger.debug("device auto -> %s", chosen)
        return chosen
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError) as err:
        raise DeviceError(f"device {requested!r}: expected auto, cpu, cuda or cuda:N ({err})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {requested!r}: CUDA is not available on this machine (torch {torch.__version__})")
    return value
