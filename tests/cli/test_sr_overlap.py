"""A folder through ``run_jobs`` (issue #27, point 3): the next file is read and the previous one written on
their own threads while a file is computed; outputs, manifest order and error lines are those of one file at a
time (:func:`zoo.data.sr_files.super_resolve_file`)."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np

import zoo
from zoo.data.sr_files import SROptions, plan_jobs, run_jobs, super_resolve_file


def _png(path: Path, seed: int) -> Path:
    from zoo.data.writers import write_png

    write_png(path, (np.random.default_rng(seed).random((16, 16)) * 65535).astype(np.uint16), bits=16)
    return path


class _Watched:
    """The real pipeline; each call notes which of zoo's file threads are alive while it computes."""

    def __init__(self, pipe) -> None:
        self.pipe, self.threads = pipe, set()

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, *args, **kwargs):
        self.threads |= {t.name.split("_")[0] for t in threading.enumerate() if t.name.startswith("zoo-sr-")}
        return self.pipe(*args, **kwargs)


def test_a_folder_overlaps_reading_and_writing_with_the_same_outputs_in_order(tiny_pipeline, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(5):
        _png(folder / f"s{i}.png", i)
    (folder / "s2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # a bad file in the middle
    pipe = zoo.load_pipeline(tiny_pipeline)
    watched = _Watched(pipe)
    jobs, _ = plan_jobs([str(folder)], tmp_path / "o")
    errors: list[str] = []
    result = run_jobs(watched, jobs, tmp_path / "o", SROptions(), on_error=lambda path, reason: errors.append(path))

    assert watched.threads == {"zoo-sr-read", "zoo-sr-write"}
    assert [j.ident for j in result.written] == ["s0", "s1", "s3", "s4"]
    assert errors == [str(folder / "s2.png")] and [f for f, _ in result.failed] == errors
    with (tmp_path / "o" / "manifest.csv").open(newline="") as fh:
        assert [row["id"] for row in csv.DictReader(fh)] == ["s0", "s1", "s3", "s4"]
    one = tmp_path / "one"
    one.mkdir()
    for job in result.written:  # one file at a time, as before the overlap: byte-identical files
        alone = super_resolve_file(pipe, job.source, one / job.output.name, SROptions())
        assert alone.read_bytes() == job.output.read_bytes()
    assert not list((tmp_path / "o").glob(".*"))  # no temporary file left behind
