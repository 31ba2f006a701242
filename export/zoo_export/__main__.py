"""``python -m zoo_export`` = ``zoo-export``."""

from zoo_export.cli import main

main()
