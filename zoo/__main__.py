"""``python -m zoo`` runs the zoo CLI."""

from zoo.cli import run

run()
