"""Fixtures for every suite under tests/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Run the tests on one torch thread: on a small shared CPU, two threads per process are several times
    slower (oversubscription) for these tiny models; restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
