"""Deprecated path of :mod:`zoo.data.sr_files` (documented before #24 moved it); import from there."""

import sys

from zoo.data import sr_files

sys.modules[__name__] = sr_files  # deprecated shim: zoo.sr_files is zoo.data.sr_files itself
