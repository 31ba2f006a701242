"""A callable that a hostile folder might name: it leaves a marker file when it runs."""

from __future__ import annotations

from pathlib import Path


def make_marker(path: str, **_: object) -> None:
    """Create ``path`` (the proof that something named by a folder was called)."""
    Path(path).write_text("ran\n")
