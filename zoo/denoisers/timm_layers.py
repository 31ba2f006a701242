"""timm's ``PatchEmbed``, ``Mlp`` and ``Attention`` without requiring torchvision.

``import timm`` imports torchvision (absent or broken on CPU-only torch installs). If the normal
import fails for that reason, only the three pure-torch submodules are loaded, under placeholder
parent packages ``timm`` and ``timm.layers`` whose ``__path__`` points at the installed timm.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

from zoo.errors import ZooError

__all__ = ["Attention", "Mlp", "PatchEmbed", "TimmMissingError"]


class TimmMissingError(ZooError, ImportError):
    """timm is not installed."""


_MISSING = (
    "the 'dit' denoiser needs timm's layers: pip install --no-deps timm "
    "(--no-deps keeps pip from pulling torchvision and another torch)"
)


def _load_without_torchvision() -> tuple[type, type, type]:
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise TimmMissingError(_MISSING)
    for name in [n for n in sys.modules if n == "timm" or n.startswith("timm.")]:
        del sys.modules[name]  # drop the half-imported package of the failed attempt
    root = list(spec.submodule_search_locations)[0]
    for name, path in (("timm", root), ("timm.layers", f"{root}/layers")):
        package = types.ModuleType(name)
        package.__path__ = [path]
        package.__package__ = name
        sys.modules[name] = package
    patch_embed = importlib.import_module("timm.layers.patch_embed")
    mlp = importlib.import_module("timm.layers.mlp")
    attention = importlib.import_module("timm.layers.attention")
    return patch_embed.PatchEmbed, mlp.Mlp, attention.Attention


try:
    from timm.layers import Attention, Mlp, PatchEmbed
except ImportError as err:  # torchvision missing or broken (or timm absent: raised clearly below)
    if importlib.util.find_spec("timm") is None:
        raise TimmMissingError(_MISSING) from err
    PatchEmbed, Mlp, Attention = _load_without_torchvision()
