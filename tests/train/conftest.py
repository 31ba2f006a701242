"""Fixtures of the training tests: a tiny prepared dataset folder written in the official layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.helpers import make_prepared


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared folder: 6 train + 2 val pairs, HR 32x32, LR 8x8 (8-bit PNG)."""
    return make_prepared(tmp_path_factory.mktemp("prepared"), n_train=6, n_val=2, size=32, scale=4)
