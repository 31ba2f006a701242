"""A backend for the export-dispatch test: its "export" folder holds a saved zoo pipeline in ``pipeline/``."""

from __future__ import annotations

from pathlib import Path

from zoo.backends.torch import TorchBackend


class FolderBackend(TorchBackend):
    name = "test-export"

    def load(self, folder):
        from zoo.pipeline import open_saved_pipeline

        return open_saved_pipeline(Path(folder) / "pipeline", backend=self)
