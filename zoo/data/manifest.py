"""The prepared-dataset manifest (``DIR/manifest.csv``): one row per HR/LR pair, keyed by ``id``.

Contract columns: ``id,source,slice,subject,split,hr,lr`` (hr/lr relative to DIR). zoo adds
``orig_min,orig_max`` (the slice's value range before [0, 1] normalisation). Rows are always looked
up by id; nothing is ever paired by sort order.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from zoo.atomic import write_text
from zoo.data.errors import DataError

COLUMNS = ("id", "source", "slice", "subject", "split", "hr", "lr")
SPLITS = ("train", "val", "test")
_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Record:
    """One manifest row."""

    id: str
    source: str
    slice: int
    subject: str
    split: str
    hr: str
    lr: str
    orig_min: float = 0.0
    orig_max: float = 1.0


def safe_id(text: str) -> str:
    """A file-name-safe id: runs of other characters become ``-``."""
    return _ID_CHARS.sub("-", text).strip("-.") or "image"


def write_manifest(path: str | os.PathLike, records: list[Record]) -> None:
    """Write ``records`` as CSV (atomically)."""
    buf = io.StringIO()
    names = [f.name for f in fields(Record)]
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow(asdict(rec))
    write_text(path, buf.getvalue(), errors="surrogateescape")  # a source name's bytes, whatever the locale


def read_manifest(path: str | os.PathLike) -> list[Record]:
    """Read a manifest (a ``manifest.csv`` file or the folder holding it); ids must be unique."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.csv"
    if not path.exists():
        raise DataError(path, "no manifest.csv (run `zoo prepare` first)")
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(path, f"manifest is missing column(s) {', '.join(missing)}")
        records = []
        for row in reader:
            records.append(Record(
                id=row["id"], source=row["source"], slice=int(row["slice"] or 0), subject=row["subject"],
                split=row["split"], hr=row["hr"], lr=row["lr"],
                orig_min=float(row.get("orig_min") or 0.0), orig_max=float(row.get("orig_max") or 1.0),
            ))
    seen: set[str] = set()
    for rec in records:
        if rec.id in seen:
            raise DataError(path, f"duplicate id {rec.id!r}")
        seen.add(rec.id)
    return records


def by_id(records: list[Record]) -> dict[str, Record]:
    return {r.id: r for r in records}


def filter_split(records: list[Record], split: str | None) -> list[Record]:
    """Records of one split (None or "all": every record)."""
    if split in (None, "all"):
        return list(records)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)} or 'all'")
    return [r for r in records if r.split == split]
