"""The prepared-dataset manifest (``DIR/manifest.csv``): one row per HR/LR pair, keyed by ``id``.

Contract columns: ``id,source,slice,subject,split,hr,lr`` (hr/lr relative to DIR). zoo adds
``orig_min,orig_max`` (the slice's value range before [0, 1] normalisation). Rows are always looked
up by id; nothing is ever paired by sort order.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from zoo.data.errors import DataError
from zoo.folders.atomic import write_text

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


MAX_MANIFEST_BYTES = 256 * 1024 * 1024
"""The largest ``manifest.csv`` read (a million rows take about 100 MB)."""


def read_manifest(path: str | os.PathLike) -> list[Record]:
    """Read a manifest (a ``manifest.csv`` file or the folder holding it); ids must be unique. A bad row is one
    :class:`DataError` naming its line and column."""
    from zoo.folders.schema import FolderSchemaError, read_regular_file

    path = Path(path)
    if path.is_dir():
        path = path / "manifest.csv"
    if not path.exists():
        raise DataError(path, "no manifest.csv (run `zoo prepare` first)")
    try:
        # a source name's bytes survive whatever the locale (written with surrogateescape)
        text = read_regular_file(path, MAX_MANIFEST_BYTES, "manifest").decode("utf-8", errors="surrogateescape")
    except FolderSchemaError as err:
        raise DataError(None, str(err)) from err
    try:
        records = _records(path, csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as err:
        raise DataError(path, f"not a readable CSV file ({err})") from err
    seen: set[str] = set()
    for rec in records:
        if rec.id in seen:
            raise DataError(path, f"duplicate id {rec.id!r}")
        seen.add(rec.id)
    return records


def _records(path: Path, reader: csv.DictReader) -> list[Record]:
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(path, f"manifest is missing column(s) {', '.join(missing)}")
    return [_record(path, reader.line_num, row) for row in reader]


def _record(path: Path, line: int, row: dict) -> Record:
    """One row as a :class:`Record`; a missing cell or a value of the wrong type names line and column."""
    absent = [c for c in COLUMNS if row.get(c) is None]
    if absent:
        raise DataError(path, f"line {line}: no value in column(s) {', '.join(absent)}")
    values = {c: row[c] for c in COLUMNS}
    values["slice"] = _cell(path, line, "slice", row["slice"] or "0", int)
    for column, default in (("orig_min", 0.0), ("orig_max", 1.0)):
        values[column] = _cell(path, line, column, row.get(column) or str(default), float)
    return Record(**values)


def _cell(path: Path, line: int, column: str, text: str, kind: type) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise DataError(path, f"line {line}: {column}: expected {'an integer' if kind is int else 'a number'}, "
                              f"got {text[:40]!r}") from None
    if kind is float and not math.isfinite(value):
        raise DataError(path, f"line {line}: {column}: expected a finite number, got {text[:40]!r}")
    return value


def by_id(records: list[Record]) -> dict[str, Record]:
    return {r.id: r for r in records}


def filter_split(records: list[Record], split: str | None) -> list[Record]:
    """Records of one split (None or "all": every record)."""
    if split in (None, "all"):
        return list(records)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)} or 'all'")
    return [r for r in records if r.split == split]
