"""``manifest.json`` of an export folder: what was exported, how it was checked, and file hashes.

Loading an export verifies the manifest before any file is used: its format, the zoo-export
release series that wrote it, and the sha256 of every file it lists.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo_export import __version__

MANIFEST = "manifest.json"
FORMAT = "zoo-export"
FORMAT_VERSION = 1


class ManifestError(ZooError, ValueError):
    """An export folder's manifest is missing, malformed, from another release, or its files changed."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions(*names: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def new_manifest(backend: str, **fields: Any) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "zoo_export_version": __version__,
        "backend": backend,
        "versions": package_versions("zoo", "zoo-export", "torch", "onnx", "onnxruntime", "onnxconverter-common"),
        **fields,
    }


def hash_files(root: Path, files: list[Path]) -> dict[str, str]:
    """Relative path (POSIX) -> sha256 for each of ``files`` under ``root``."""
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in files}


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    from zoo.atomic import write_text

    path = Path(root) / MANIFEST
    write_text(path, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def _series(text: str) -> tuple[str, ...]:
    """The release series that must match: major.minor (0.x releases may break the layout)."""
    return tuple(text.split(".")[:2])


def load_manifest(root: str | Path) -> dict[str, Any]:
    """Read and sanity-check ``root/manifest.json`` (format and writer release); no hashing."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{path}: not found; is {root} a zoo-export folder?")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ManifestError(f"{path}: unreadable manifest ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ManifestError(f"{path}: not a zoo-export manifest (format {manifest.get('format')!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ManifestError(
            f"{path}: manifest format {manifest.get('format_version')!r} is not supported by zoo-export "
            f"{__version__} (format {FORMAT_VERSION}); re-export with this release"
        )
    written_by = str(manifest.get("zoo_export_version", "?"))
    if _series(written_by) != _series(__version__):
        raise ManifestError(
            f"{path}: written by zoo-export {written_by}, this is zoo-export {__version__}; "
            "re-export with this release (or install the matching one)"
        )
    return manifest


def verify_files(root: str | Path, manifest: dict[str, Any]) -> None:
    """Raise :class:`ManifestError` naming the first listed file that is missing or changed."""
    root = Path(root)
    for name, stage in manifest.get("stages", {}).items():
        for rel, expected in stage.get("files", {}).items():
            path = root / rel
            if not path.is_file():
                raise ManifestError(f"{path}: missing ({name} stage file listed in {MANIFEST})")
            actual = sha256_file(path)
            if actual != expected:
                raise ManifestError(
                    f"{path}: sha256 {actual[:12]}... does not match the manifest's {expected[:12]}... "
                    "(file changed after export)"
                )


def verify_export(root: str | Path, require_ok: bool = True) -> dict[str, Any]:
    """Load, check and hash-verify an export folder; ``require_ok`` refuses stages marked failed."""
    manifest = load_manifest(root)
    verify_files(root, manifest)
    if require_ok:
        failed = [n for n, s in manifest.get("stages", {}).items() if s.get("status") != "ok"]
        if failed:
            raise ManifestError(
                f"{Path(root) / MANIFEST}: stage(s) {', '.join(failed)} failed validation at export "
                "(written with --force); not loading them"
            )
    return manifest
