"""Deprecated path of :mod:`zoo.folders.guard` (documented before #24 moved it); import from there."""

import sys

from zoo.folders import guard

sys.modules[__name__] = guard  # deprecated shim: zoo.output_guard is zoo.folders.guard itself
