"""Deprecated path of :mod:`zoo.folders.atomic` (documented before #24 moved it); import from there."""

from zoo.folders.atomic import *  # noqa: F403  # deprecated shim: kept one release for code that imports zoo.atomic
