"""Conformance checks for zoo components, for plugin authors' pytest and zoo's own tests.

Each ``check_*`` function builds the component with random weights, exercises the contract and
raises ``AssertionError`` with a message that says what is wrong::

    from zoo.testing import check_autoencoder

    def test_my_vae_conforms():
        check_autoencoder("my-vae")
"""

from zoo.testing.conformance import (
    check_autoencoder,
    check_backend,
    check_card,
    check_component,
    check_denoiser,
    check_sampler,
)

__all__ = [
    "check_autoencoder",
    "check_backend",
    "check_card",
    "check_component",
    "check_denoiser",
    "check_sampler",
]
