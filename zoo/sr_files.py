"""Deprecated path of :mod:`zoo.data.sr_files` (documented before #24 moved it); import from there."""

from zoo.data.sr_files import *  # noqa: F403  # deprecated shim: kept one release for code that imports zoo.sr_files
