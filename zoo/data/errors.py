"""The one error type of zoo's data layer: a bad input file, named with the reason."""

from __future__ import annotations

import os

from zoo.errors import ZooError


class DataError(ZooError, ValueError):
    """A file zoo cannot use; ``str(err)`` is ``"<file>: <reason>"`` (one line)."""

    def __init__(self, path: str | os.PathLike | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)
