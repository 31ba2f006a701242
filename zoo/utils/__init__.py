"""Plumbing that knows nothing of SR: lazy exports, devices, console output, verbosity, ``ZOO_*`` variables."""
