"""Fixtures for the evaluation tests: three tiny autoencoders registered in-process."""

from __future__ import annotations

import pytest

TINY_VAES = {
    "evaltest-a": dict(in_channels=1, latent_channels=4, blocks=[32, 32], intensity="fixed"),
    "evaltest-b": dict(in_channels=3, latent_channels=3, blocks=[32, 32, 32], intensity="minmax"),
    "evaltest-c": dict(in_channels=1, latent_channels=1, blocks=[32, 32], intensity="fixed"),
}


@pytest.fixture(scope="session")
def tiny_vaes() -> list[str]:
    """Three small KL autoencoders registered in-process (random weights only)."""
    from zoo.autoencoders.cards import kl_config
    from zoo.cards import AutoencoderCard
    from zoo.registry import register

    for name, spec in TINY_VAES.items():
        config = {**kl_config(spec["in_channels"], spec["latent_channels"], spec["blocks"]), "layers_per_block": 1}
        register(AutoencoderCard(name=name, factory="zoo.autoencoders.kl:build_autoencoder_kl", config=config,
                                 in_channels=spec["in_channels"], latent_channels=spec["latent_channels"],
                                 downsample_factor=2 ** (len(spec["blocks"]) - 1), intensity=spec["intensity"],
                                 description="tiny test VAE"), override=True)
    return list(TINY_VAES)
