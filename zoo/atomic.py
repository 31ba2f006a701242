"""Deprecated path of :mod:`zoo.folders.atomic` (documented before #24 moved it); import from there."""

import sys

from zoo.folders import atomic

sys.modules[__name__] = atomic  # deprecated shim: zoo.atomic is zoo.folders.atomic itself
