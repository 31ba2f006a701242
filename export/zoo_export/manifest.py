"""``manifest.json`` of an export folder: what was exported, how it was checked, and file hashes.

Loading an export verifies the manifest before any file is used: its format, the zoo-export
release series that wrote it, its schema (types, ranges, known keys), and ``files``: the sha256 of
every file the export reads (each stage's ONNX and external data, TensorRT engines,
``pipeline.json`` and everything under ``pipeline/``). A listed file that changed, a file the
export reads that is not listed, and a path leading outside the folder are refused.
"""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.folders.paths import files_under, inside
from zoo.folders.schema import Bool, Int, Json, ListOf, MapOf, Number, Obj, Str, read_json, validate
from zoo.ops.geometry import Geometry
from zoo.weights import sha256_file
from zoo_export import __version__

MANIFEST = "manifest.json"
PIPELINE_JSON = "pipeline.json"
PIPELINE_SUBDIR = "pipeline"
FORMAT = "zoo-export"
FORMAT_VERSION = 2
STAGE_NAMES = ("encoder", "denoiser", "decoder")

_SHA256 = Str(test=lambda v: len(v) == 64 and all(c in "0123456789abcdef" for c in v), what="a sha256 (64 hex digits)")
_HASHES = MapOf(_SHA256)
_STAGE = Obj(
    {"onnx": Str(), "status": Str(("ok", "failed")), "precision": Str(("fp32", "fp16")), "files": _HASHES},
    {"exporter": Str(("dynamo", "torchscript")), "opset": Int(1), "external_data": Bool(),
     "export_seconds": Number(min=0), "inputs": ListOf(Json()), "outputs": ListOf(Json()), "parity": MapOf(Json()),
     "error": Str(null=True), "fp16_check": MapOf(Json()), "fp16_fallback": Str(null=True),
     "engine": Obj({"file": Str(), "sha256": _SHA256}, others=True)},
)
SCHEMA = Obj(
    {
        "format": Str((FORMAT,)), "format_version": Int(1), "zoo_export_version": Str(),
        "backend": Str(what="a component name"), "status": Str(("ok", "failed")), "precision": Str(("fp32", "fp16")),
        "geometry": Obj({k: Int(1) for k in ("in_channels", "latent_channels", "downsample_factor", "size",
                                             "encode_size", "latent_size", "scale")},
                        {"conditioning": Str(("lr-latent", "bicubic-latent"))}),
        "stages": Obj({name: _STAGE for name in STAGE_NAMES}),
        "files": _HASHES,
    },
    {
        "versions": MapOf(Str(null=True)), "created_unix": Int(0), "source": MapOf(Json()),
        "batch": Obj({"min": Int(1), "opt": Int(1), "max": Int(1)}), "dynamic_size": Bool(),
        "tolerances": MapOf(Json()), "options": MapOf(Json()), "end_to_end": MapOf(Json(), null=True),
        "pipeline_config": Str((PIPELINE_SUBDIR,), null=True),
    },
)
"""Schema of ``manifest.json`` (report sections that nothing acts upon are free-form JSON)."""


class ManifestError(ZooError, ValueError):
    """An export folder's manifest is missing, malformed, from another release, or its files changed."""


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


def geometry_record(geometry: Geometry) -> dict[str, Any]:
    """The manifest's ``geometry`` section (``size`` is the HR side)."""
    g = geometry
    return {
        "in_channels": g.in_channels, "latent_channels": g.latent_channels, "downsample_factor": g.downsample_factor,
        "size": g.hr_size, "encode_size": g.encode_size, "latent_size": g.latent_size, "scale": g.scale,
        "conditioning": g.conditioning,
    }


def manifest_geometry(manifest: dict[str, Any]) -> Geometry:
    """The :class:`~zoo.ops.geometry.Geometry` an export was made and validated at."""
    g = manifest["geometry"]
    return Geometry(g["in_channels"], g["latent_channels"], g["downsample_factor"], g["size"], g["scale"],
                    g.get("conditioning", "lr-latent"))


def hash_files(root: Path, files: list[Path]) -> dict[str, str]:
    """Relative path (POSIX) -> sha256 for each of ``files`` under ``root``."""
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in files}


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    from zoo.folders.atomic import write_text

    path = Path(root) / MANIFEST
    write_text(path, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def _series(text: str) -> tuple[str, ...]:
    """The release series that must match: major.minor (0.x releases may break the layout)."""
    return tuple(text.split(".")[:2])


def load_manifest(root: str | Path) -> dict[str, Any]:
    """Read and check ``root/manifest.json`` (format, writer release, schema); no hashing."""
    path = Path(root) / MANIFEST
    if not os.path.lexists(path):
        raise ManifestError(f"{path}: not found; is {root} a zoo-export folder?")
    manifest = read_json(inside(root, MANIFEST, MANIFEST, root))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ManifestError(f"{path}: not a zoo-export manifest (format {found!r})")
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
    validate(manifest, SCHEMA, path)
    return manifest


def read_files(root: Path, manifest: dict[str, Any]) -> list[str]:
    """Every file (relative POSIX path) that opening the export reads, before parsing any ONNX file."""
    reads = []
    for stage in manifest["stages"].values():
        reads.append(stage["onnx"])
        if "engine" in stage:
            reads.append(stage["engine"]["file"])
    if (root / PIPELINE_JSON).exists() or (root / PIPELINE_JSON).is_symlink():
        reads.append(PIPELINE_JSON)
    return reads + files_under(root, PIPELINE_SUBDIR)


EXTERNAL_MEMO = "onnx-external-data"
"""Sub-folder of zoo's private cache: ``<sha256 of an ONNX file>.json`` = its external-data locations."""
_LOCATIONS = ListOf(Str())


def _memo_path(onnx_sha256: str) -> Path | None:
    """Where the external-data locations of the ONNX file with this sha256 are remembered (None: no usable cache)."""
    from zoo.folders.cache import CacheDirError, cache_dir

    try:
        return cache_dir(EXTERNAL_MEMO) / f"{onnx_sha256}.json"
    except CacheDirError:
        return None


def _external_locations(path: Path, onnx_sha256: str) -> list[str]:
    """The external-data locations of the ONNX file ``path`` whose bytes hash to ``onnx_sha256`` (just verified).

    They are a function of the file's bytes, so they are remembered per sha256 in zoo's private per-user
    cache: a later check of the same file skips importing onnx and parsing the model (about 0.6 s).
    """
    from google.protobuf.message import DecodeError

    memo = _memo_path(onnx_sha256)
    if memo is not None and memo.is_file() and not memo.is_symlink():
        try:
            return read_json(memo, _LOCATIONS)
        except ZooError:
            pass  # unreadable memo: parse the model again and rewrite it
    from zoo_export.onnx_export import external_locations

    try:
        locations = external_locations(path)
    except (DecodeError, ValueError, OSError) as err:
        reason = str(err).splitlines()[0] if str(err).strip() else type(err).__name__
        raise ManifestError(f"{path}: not a readable ONNX file ({reason})") from err
    if memo is not None:
        from zoo.folders.atomic import write_text

        try:
            write_text(memo, json.dumps(locations))
        except OSError:
            pass  # a memo is an optimisation; the check itself is done
    return locations


def _external_data(root: Path, onnx_rel: str, onnx_sha256: str) -> list[str]:
    """The external-data files that the (already verified) ONNX file ``onnx_rel`` makes a runtime read."""
    onnx_path = root / onnx_rel
    paths = sorted(onnx_path.parent / loc for loc in _external_locations(onnx_path, onnx_sha256))
    return [p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p) for p in paths]


def verify_files(root: str | Path, manifest: dict[str, Any]) -> None:
    """Raise :class:`ManifestError` (or a path error) naming the first file that is unlisted, missing or changed."""
    root = Path(root)
    where = root / MANIFEST
    listed: dict[str, str] = manifest["files"]
    if not listed:
        raise ManifestError(f"{where}: files: empty; an export must list the sha256 of every file it reads "
                            "(re-export with this release)")
    entries = [(rel, sha, f"files[{rel!r}]") for rel, sha in listed.items()]
    entries += [(rel, sha, f"stages.{name}.files[{rel!r}]")
                for name, stage in manifest["stages"].items() for rel, sha in stage["files"].items()]
    actual: dict[str, str] = {}
    for rel, expected, field in entries:
        path = inside(root, rel, field, where)
        if rel not in actual:
            if not path.is_file():
                raise ManifestError(f"{path}: missing ({field} in {MANIFEST})")
            actual[rel] = sha256_file(path)
        if actual[rel] != expected:
            raise ManifestError(f"{path}: sha256 {actual[rel][:12]}... does not match {field} {expected[:12]}... "
                                "in the manifest (file changed after export)")
    reads = read_files(root, manifest)
    for rel in reads:
        _check_listed(root, rel, listed, where)
    for stage in manifest["stages"].values():
        for rel in _external_data(root, stage["onnx"], actual[stage["onnx"]]):
            _check_listed(root, rel, listed, where)


def _check_listed(root: Path, rel: str, listed: dict[str, str], where: Path) -> None:
    inside(root, rel, rel, where)
    if rel not in listed:
        raise ManifestError(f"{where}: files: {rel!r} is read by the export but not listed with its sha256; "
                            "refusing to load it")
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
