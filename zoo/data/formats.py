"""Which reader/writer a file needs: by extension, checked against the file's first bytes."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

from zoo.data.errors import DataError

log = logging.getLogger(__name__)

EXTENSIONS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".dcm": "dicom",
    ".dicom": "dicom",
    ".ima": "dicom",
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".npy": "npy",
}
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage: an index of a DICOM medium
# Suffix written for each format (``zoo sr`` writes its output in the input's format).
SUFFIX = {"png": ".png", "jpeg": ".png", "tiff": ".tif", "dicom": ".dcm", "nifti": ".nii.gz", "npy": ".npy"}


def extension(path: str | os.PathLike) -> str:
    """Lower-case extension, ``.nii.gz`` counted as one."""
    name = Path(path).name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix


def stem(path: str | os.PathLike) -> str:
    """File name without its (possibly double) extension, when zoo knows that extension: a DICOM file named
    by its UID (``1.2.840.113619.2.55.3.7``) keeps its whole name."""
    name = Path(path).name
    ext = extension(path)
    return name[: -len(ext)] if ext in EXTENSIONS or ext == ".img" else name


def has_dicom_preamble(path: str | os.PathLike) -> bool:
    """Whether the file starts with the DICOM Part 10 header: a 128-byte preamble, then ``DICM``."""
    with open(path, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:] == b"DICM"


def is_dicomdir(path: str | os.PathLike) -> bool:
    """Whether a DICOM Part 10 file is a DICOMDIR (the index of a medium, no image)."""
    from pydicom.errors import InvalidDicomError
    from pydicom.filereader import read_file_meta_info

    if Path(path).name.upper() == "DICOMDIR":
        return True
    try:
        meta = read_file_meta_info(path)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return False
    return str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_SOP_CLASS


def images_in_folder(folder: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """(images, skipped) under ``folder``, recursively and sorted; hidden files are left out.

    An image has a supported extension or, whatever its name (``IM0001``, ``1.2.840.113619.2.55.3.7``), the
    DICOM Part 10 header. DICOMDIR index files are left out; other files land in ``skipped``."""
    images, skipped = [], []
    for path in sorted(Path(folder).rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        if extension(path) in EXTENSIONS:
            images.append(path)
            continue
        try:
            dicom = has_dicom_preamble(path)
        except OSError:
            dicom = False
        if dicom and is_dicomdir(path):
            log.debug("%s: a DICOMDIR (an index, no image): skipped", path)
        elif dicom:
            images.append(path)
        else:
            skipped.append(path)
    return images, skipped


def sniff(path: str | os.PathLike) -> str | None:
    """Format from the file's leading bytes, or None if unrecognised."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if len(head) >= 132 and head[128:132] == b"DICM":  # first: a DICOM preamble may hold a TIFF header
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(348)
        except (OSError, EOFError):
            return None
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return "nifti"
    if len(head) >= 8 and head[4:8] == b"n+2\x00":
        return "nifti"
    return None


def detect_format(path: str | os.PathLike) -> str:
    """The format to read ``path`` with; a :class:`DataError` if it is unknown or mislabelled."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file")
    if path.is_dir():
        raise DataError(path, "is a folder, not an image file")
    if path.stat().st_size == 0:
        raise DataError(path, "file is empty")
    ext = extension(path)
    by_name = EXTENSIONS.get(ext)
    by_content = sniff(path)
    if by_name is None and ext not in ("", ".img"):
        if by_content is None:
            raise DataError(path, f"unsupported file type {ext!r} (supported: {', '.join(sorted(EXTENSIONS))})")
        return by_content
    if by_name is None:  # no extension: DICOM files often have none
        return by_content or "dicom"
    if by_content is None:
        if by_name == "dicom":  # DICOM without the 128-byte preamble; pydicom reads it with force
            return "dicom"
        raise DataError(path, f"not a valid {by_name.upper()} file (unrecognised content)")
    if by_content != by_name:
        raise DataError(path, f"extension says {by_name.upper()} but the content is {by_content.upper()}; "
                        "rename the file")
    return by_name
