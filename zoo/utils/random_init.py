"""Which built components still hold the random weights they were built with (``pretrained=False``).

The factory fingerprints a randomly initialised module; a module whose parameters still match it (not loaded,
not trained) is reported as untrained, e.g. in a model card, instead of naming its card's default weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["UNTRAINED", "is_random_init", "mark_random_init", "weights_follow"]

UNTRAINED = "untrained (random initialisation, pretrained=False)"
_ATTR = "_zoo_random_init_fingerprint"
_WEIGHTS_FOLLOW: ContextVar[bool] = ContextVar("zoo_weights_follow", default=False)


@contextmanager
def weights_follow() -> Iterator[None]:
    """Inside, components built random are not fingerprinted: the caller loads their weights at once (a saved
    pipeline's denoiser). Fingerprinting reads every parameter; for a module about to be overwritten it is waste."""
    token = _WEIGHTS_FOLLOW.set(True)
    try:
        yield
    finally:
        _WEIGHTS_FOLLOW.reset(token)


def _fingerprint(module: Any) -> tuple[float, ...]:
    """Sum and sum of squares of every parameter (float64): changes with any load or training step."""
    import torch

    with torch.no_grad():
        values = [(p.double().sum().item(), p.double().square().sum().item()) for p in module.parameters()]
    return tuple(v for pair in values for v in pair)


def mark_random_init(module: Any) -> None:
    """Remember that ``module`` was just built with random weights (a module without parameters has none; inside
    :func:`weights_follow` nothing is remembered)."""
    if _WEIGHTS_FOLLOW.get():
        return
    fingerprint = _fingerprint(module)
    if fingerprint:
        object.__setattr__(module, _ATTR, fingerprint)


def is_random_init(module: Any) -> bool:
    """True if ``module`` was built random and its parameters have not changed since."""
    mark = getattr(module, _ATTR, None)
    return mark is not None and mark == _fingerprint(module)
