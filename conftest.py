"""Fixtures of every test tree (tests/ and export/tests/)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def auto_backend_runs_torch():
    """``backend="auto"`` (the default) runs torch in the tests, subprocesses included (``ZOO_AUTO_BACKEND``):
    most tests test torch's results and must not export on every fresh cache. export/tests/test_auto_backend.py
    lifts it to test the choice itself."""
    before = os.environ.get("ZOO_AUTO_BACKEND")
    os.environ["ZOO_AUTO_BACKEND"] = "torch"
    yield
    if before is None:
        os.environ.pop("ZOO_AUTO_BACKEND", None)
    else:
        os.environ["ZOO_AUTO_BACKEND"] = before
