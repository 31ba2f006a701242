"""Find images in a folder by id and pair two folders strictly by id (never by sort order).

A folder's ids come from its ``manifest.csv`` (``id`` column; the image path from the first
present column of a role's preference, e.g. ``output`` for SR results, ``hr`` for a prepared
dataset), else from the image files' stems.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from zoo.errors import ZooError
from zoo.evaluate.images import IMAGE_SUFFIXES

PRED_COLUMNS = ("output", "sr", "hr", "path", "file")
REF_COLUMNS = ("hr", "output", "path", "file")
MASK_COLUMNS = ("mask", "seg", "path", "file")


class PairingError(ZooError, ValueError):
    """Two image sets cannot be paired by id."""


@dataclass(frozen=True)
class ImageSet:
    """Images of one folder keyed by id, with the subject of each id when the manifest has one."""

    root: Path
    paths: dict[str, Path]
    subjects: dict[str, str] = field(default_factory=dict)
    source: str = "stems"
    splits: dict[str, str] = field(default_factory=dict)  # id -> train/val/test (prepared folders)


def _from_manifest(root: Path, manifest: Path, columns: tuple[str, ...]) -> ImageSet | None:
    with manifest.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        rows = list(csv.DictReader(fh))
    header = set(rows[0]) if rows else set()
    column = next((c for c in columns if c in header), None)
    if "id" not in header or column is None:
        return None
    paths: dict[str, Path] = {}
    subjects: dict[str, str] = {}
    splits: dict[str, str] = {}
    for row in rows:
        ident = row["id"].strip()
        if ident in paths:
            raise PairingError(f"{manifest}: id {ident!r} appears more than once")
        paths[ident] = root / row[column]
        if row.get("subject"):
            subjects[ident] = row["subject"]
        if row.get("split"):
            splits[ident] = row["split"].strip()
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise PairingError(f"{manifest}: {len(missing)} listed file(s) do not exist, e.g. {missing[0]}")
    return ImageSet(root, paths, subjects, source=f"manifest.csv:{column}", splits=splits)


def _from_stems(root: Path) -> ImageSet:
    paths: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
            if path.stem in paths:
                clash = f"{paths[path.stem].name}, {path.name}"
                raise PairingError(f"{root}: two images share the id {path.stem!r} ({clash})")
            paths[path.stem] = path
    return ImageSet(root, paths)


def image_set(folder: str | Path, columns: tuple[str, ...] = PRED_COLUMNS) -> ImageSet:
    """The images of ``folder`` keyed by id (manifest first, else file stems)."""
    root = Path(folder)
    if not root.is_dir():
        raise PairingError(f"{root}: not a folder")
    manifest = root / "manifest.csv"
    found = _from_manifest(root, manifest, columns) if manifest.is_file() else None
    found = found or _from_stems(root)
    if not found.paths:
        raise PairingError(f"{root}: no images found (PNG/TIFF files or a manifest.csv with an id column)")
    return found


SPLIT_CHOICES = ("auto", "all", "train", "val", "test")


def select_split(refs: ImageSet, split: str, pred_ids: object = ()) -> tuple[ImageSet, str]:
    """The references of one split of a prepared folder, and the split used.

    ``all`` keeps every id; ``train``/``val``/``test`` keep that split (the folder's manifest.csv
    needs a ``split`` column); ``auto`` picks the one split whose ids are exactly ``pred_ids``
    (as written by ``zoo sr DATA --split S``), else keeps every id.
    """
    if split not in SPLIT_CHOICES:
        raise PairingError(f"--split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
    if split == "all":
        return refs, "all"
    if split == "auto":
        wanted = set(pred_ids)
        if refs.splits and wanted != set(refs.paths):
            for name in sorted(set(refs.splits.values())):
                if wanted == {i for i, s in refs.splits.items() if s == name}:
                    return select_split(refs, name)[0], name
        return refs, "all"
    if not refs.splits:
        raise PairingError(f"{refs.root}: --split {split} needs a prepared folder (manifest.csv with a split column)")
    keep = {i: p for i, p in refs.paths.items() if refs.splits.get(i) == split}
    if not keep:
        raise PairingError(f"{refs.root}: no image in split {split!r}")
    return ImageSet(refs.root, keep, {i: s for i, s in refs.subjects.items() if i in keep}, refs.source,
                    {i: s for i, s in refs.splits.items() if i in keep}), split


def _sample(ids: set[str], k: int = 5) -> str:
    shown = sorted(ids)[:k]
    more = f" and {len(ids) - k} more" if len(ids) > k else ""
    return ", ".join(shown) + more


def matched_ids(a: object, b: object, names: tuple[str, str] = ("A", "B")) -> list[str]:
    """The ids (keys) both collections hold, sorted; an id in only one is an error listing a few of them."""
    only_a, only_b = set(a) - set(b), set(b) - set(a)
    if only_a or only_b:
        parts = []
        if only_b:
            parts.append(f"{len(only_b)} id(s) missing from {names[0]}: {_sample(only_b)}")
        if only_a:
            parts.append(f"{len(only_a)} id(s) missing from {names[1]}: {_sample(only_a)}")
        raise PairingError("cannot pair by id; " + "; ".join(parts))
    return sorted(a)


def pair_ids(a: ImageSet, b: ImageSet, names: tuple[str, str] = ("pred", "ref")) -> list[str]:
    """The ids of two image sets, which must be identical (paired by id, never by order)."""
    return matched_ids(a.paths, b.paths, (f"{names[0]} {a.root}", f"{names[1]} {b.root}"))
