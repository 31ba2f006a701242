"""Every registered component passes zoo.testing's conformance check (timm-style parametrisation)."""

from __future__ import annotations

import pytest

from zoo.registry import list_components
from zoo.testing import check_autoencoder, check_component

COMPONENTS = [i for i in list_components() if i.ok and i.distribution not in ("zoo-collide",)]


@pytest.mark.parametrize("info", COMPONENTS, ids=lambda i: f"{i.kind}:{i.qualified_name}")
def test_component_conforms(info):
    if info.kind == "autoencoder":
        check_autoencoder(info.qualified_name, size=2 * info.card.downsample_factor, batch=1)
    else:
        check_component(info.kind, info.qualified_name)
