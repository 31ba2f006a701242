"""Fixtures of the data tests: real files written by the tests or taken from the bundled samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.data.samples import sample_dir


@pytest.fixture(scope="session")
def originals() -> Path:
    """Unmodified DICOM/NIfTI files bundled under zoo/assets/samples/original."""
    return sample_dir() / "original"


@pytest.fixture
def brain_volume() -> np.ndarray:
    """A smooth 3D phantom (X x Y x Z) with a bright ellipsoid in the middle slices."""
    x, y, z = np.meshgrid(np.linspace(-1, 1, 40), np.linspace(-1, 1, 48), np.linspace(-1, 1, 20), indexing="ij")
    vol = 1000.0 * np.exp(-(x**2 / 0.4 + y**2 / 0.5 + z**2 / 0.2))
    return vol.astype(np.float32)
