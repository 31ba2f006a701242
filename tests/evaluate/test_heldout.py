"""Picking held-out images across modalities and subjects (``zoo demo``'s figure)."""

from __future__ import annotations

from pathlib import Path

from zoo.evaluate.heldout import HeldOut, held_out, pick_by_modality


def _items(spec: list[tuple[str, str]]) -> list[HeldOut]:
    return [HeldOut(f"img{i}", subject, modality, Path(), Path()) for i, (modality, subject) in enumerate(spec)]


def test_pick_by_modality_covers_modalities_then_subjects() -> None:
    items = _items([("MR", "a")] * 5 + [("MR", "b")] * 2 + [("CT", "c")] * 3 + [("CR", "d")])
    picked = [items[i] for i in pick_by_modality(items, 6)]
    assert [p.modality for p in picked[:3]] == ["CR", "CT", "MR"]
    assert {p.subject for p in picked if p.modality == "MR"} == {"a", "b"}  # a second MR is another subject
    assert len(set(picked)) == 6
    assert len(pick_by_modality(items, 50)) == len(items)


def test_bundled_held_out_images_have_modalities() -> None:
    items = held_out("test")
    assert items and all(i.modality != "unknown" and i.lr.is_file() and i.hr.is_file() for i in items)
