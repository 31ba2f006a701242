"""The paths documented before the folders (#24) still hand on the same objects."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_zoo_pipeline_hands_on_the_pipeline_names() -> None:
    from zoo.pipeline import (
        CompatibilityError,
        PipelineConfig,
        SRPipeline,
        build,
        build_pipeline,
        config,
        load_pipeline,
        open_saved_pipeline,
        sr_pipeline,
    )

    assert (SRPipeline, build_pipeline, load_pipeline, open_saved_pipeline) == (
        sr_pipeline.SRPipeline, build.build_pipeline, build.load_pipeline, build.open_saved_pipeline)
    assert (PipelineConfig, CompatibilityError) == (config.PipelineConfig, config.CompatibilityError)


@pytest.mark.parametrize(("old", "new"), [
    ("zoo.atomic", "zoo.folders.atomic"),
    ("zoo.output_guard", "zoo.folders.guard"),
    ("zoo.sr_files", "zoo.data.sr_files"),  # merge_manifest (docs/large-images.md) is not in its __all__
])
def test_deprecated_module_paths_are_the_moved_modules(old: str, new: str) -> None:
    import importlib

    assert importlib.import_module(old) is importlib.import_module(new)


def test_documented_names_of_the_old_paths() -> None:
    from zoo.atomic import atomic_dir
    from zoo.output_guard import prepare_output
    from zoo.sr_files import SROptions, merge_manifest

    assert [f.__module__ for f in (atomic_dir, prepare_output, SROptions, merge_manifest)] == [
        "zoo.folders.atomic", "zoo.folders.guard", "zoo.data.sr_files", "zoo.data.sr_files"]


def test_importing_the_pipeline_package_does_not_import_torch() -> None:
    code = "import sys, zoo.pipeline; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
