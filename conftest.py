"""pytest configuration for every suite (tests/, export/tests/, benchmarks/): ``slow`` tests run only
with --runslow or ZOO_RUN_SLOW=1."""

from __future__ import annotations

import logging
import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow") or os.environ.get("ZOO_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or ZOO_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def zoo_loggers_as_they_were():
    """A CLI run (-v/-q) sets the level and handler of zoo's loggers for the process; undo it after each test."""
    from zoo.utils.verbosity import LOGGERS

    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers)) for name in LOGGERS}
    yield
    for name, (level, handlers) in saved.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).handlers[:] = handlers


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
