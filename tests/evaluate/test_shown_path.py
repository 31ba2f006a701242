"""Reports name their data folder relative to the working directory when inside it (machine-independent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.evaluate.report import shown_path


def test_a_path_inside_the_working_directory_is_shown_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data" / "held").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "data" / "held") == "data/held"
    assert shown_path(Path("data") / "held") == "data/held"


def test_a_path_outside_the_working_directory_is_shown_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert shown_path(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")
