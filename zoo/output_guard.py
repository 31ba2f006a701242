"""Deprecated path of :mod:`zoo.folders.guard` (documented before #24 moved it); import from there."""

from zoo.folders.guard import *  # noqa: F403  # deprecated shim: kept one release for code that imports zoo.output_guard
