"""Run a call that must not hang (a FIFO in a shared folder): a thread with a time limit."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def unblock(fifos: Iterable[Path]) -> None:
    """Open each FIFO for writing (and close it), so a reader blocked in ``open`` gets an empty file."""
    for fifo in fifos:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


def within(seconds: float, call: Callable[[], Any], fifos: Iterable[Path] = ()) -> BaseException | None:
    """The exception ``call`` raised within ``seconds`` (None: it returned); fails the test if it is still
    running then (and unblocks ``fifos`` so that the thread ends)."""
    outcome: dict[str, BaseException | None] = {}

    def run() -> None:
        try:
            call()
            outcome["error"] = None
        except BaseException as err:  # noqa: BLE001 - handed to the test, which checks its type
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        fifos = list(fifos)
        for _ in range(25):  # a thread blocked on a FIFO ends once it is unblocked; a busy one is left (daemon)
            unblock(fifos)
            thread.join(0.2)
        raise AssertionError(f"still running after {seconds} s (a hang)")
    return outcome["error"]
