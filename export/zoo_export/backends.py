"""The backends zoo-export adds to ``zoo.backends``: ``onnxruntime``, ``openvino`` and ``tensorrt``.

The top layer of zoo-export: ``backend.runtime(pipeline)`` exports the pipeline (validated, into a
per-user cache, :mod:`zoo.folders.cache`, keyed by its weights, options and versions, every entry
verified before use) and opens a runtime on the files;
``backend.load(folder)`` opens an export folder as an ``SRPipeline``. The cards that point here are
:mod:`zoo_export.cards`. The exporter (onnx, onnxscript) is imported only when an export is made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.folders.atomic import TEMP_PREFIX, clean_stale_temps, temp_name
from zoo.folders.cache import cache_dir as zoo_cache_dir
from zoo.folders.cache import ensure_private_dir
from zoo_export.manifest import MANIFEST, manifest_geometry, package_versions, verify_export
from zoo_export.options import export_options_for, pipeline_record
from zoo_export.pipelines import pipeline_from_export
from zoo_export.runtime_openvino import CHOICES, OpenVinoRuntime, import_openvino
from zoo_export.runtime_ort import OrtRuntime
from zoo_export.runtime_trt import TrtRuntime
from zoo_export.trt import current_environment
from zoo_export.validate import ExportValidationError, compare_stage

log = logging.getLogger(__name__)
OPENVINO_VALIDATION_BATCHES = (1, 2)
CACHE_SUBDIR = "exports"
"""Sub-folder of zoo's per-user cache (:func:`zoo.folders.cache.cache_dir`) holding the backends' exports."""
KEY_FIELD = "cache_key"
"""The manifest's ``source`` field that records the fingerprint an entry was made for."""
_KEY_VERSIONS = ("zoo", "zoo-export", "torch", "onnx", "onnxruntime", "onnxconverter-common")


def export_cache_key(*parts: Any) -> str:
    """Fingerprint (sha256 hex) of the modules' weights, the other ``parts`` (options, pipeline config, ...)
    and the versions of zoo, zoo-export, torch and the ONNX runtimes: an entry made by another release is
    never reused."""
    digest = hashlib.sha256()
    digest.update(json.dumps(package_versions(*_KEY_VERSIONS), sort_keys=True).encode())
    for part in parts:
        if isinstance(part, torch.nn.Module):
            for key, value in sorted(part.state_dict().items()):
                digest.update(key.encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(part, dict):
            digest.update(json.dumps(part, sort_keys=True, default=repr).encode())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()


def cache_fingerprint(pipeline: Any, options: Any, *key: Any) -> str:
    """The fingerprint of ``pipeline``'s export with ``options``; its entry is ``<cache>/<first 32 hex digits>``."""
    return export_cache_key(pipeline.vae, pipeline.denoiser, options, pipeline_record(pipeline), *key)


def export_cache_folder(cache_dir: str | Path | None) -> Path:
    """``cache_dir`` (checked private) or ``<zoo cache>/exports``; see :mod:`zoo.folders.cache`."""
    if cache_dir:
        return ensure_private_dir(cache_dir, "export cache folder")
    return zoo_cache_dir(CACHE_SUBDIR)


def manifest_sha256(folder: str | Path) -> str | None:
    """sha256 of ``folder``'s manifest.json (None when unreadable): with its files' sha256 inside, it names the
    exact files of an export."""
    try:
        return hashlib.sha256((Path(folder) / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return None


def _valid_entry(entry: Path, key: str, pipeline: Any, verified_manifest: str | None = None) -> bool:
    """Whether the cache entry ``entry`` may run ``pipeline``: its files match the sha256 in its manifest,
    the manifest names ``key`` (this pipeline's fingerprint), and each stage gives the pipeline's own output
    on a probe input (an export made from other weights is caught even if its manifest was rewritten).
    The probe is skipped when the manifest's sha256 is ``verified_manifest`` (the same files already
    passed a check against this pipeline: the auto backend's record); the sha256 checks never are."""
    if entry.is_symlink() or not (entry / MANIFEST).is_file():
        return False
    try:
        manifest = verify_export(entry)
    except ZooError as err:
        log.warning("export cache: %s is not a valid export (%s); rebuilding it", entry, err)
        return False
    if manifest.get("source", {}).get(KEY_FIELD) != key:
        log.warning("export cache: %s was made for other weights or settings; rebuilding it", entry)
        return False
    if verified_manifest is not None and manifest_sha256(entry) == verified_manifest:
        return True
    from zoo_export.exporter import check_export_matches

    problems = check_export_matches(entry, manifest, pipeline)
    if problems:
        log.warning("export cache: %s does not compute this pipeline (%s); rebuilding it", entry, "; ".join(problems))
        return False
    return True


def _discard(path: Path) -> None:
    """Remove a cache entry: renamed aside first (a unique name), so a concurrent reader never sees half of it."""
    if not (path.exists() or path.is_symlink()):
        return
    aside = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-discard")
    try:
        os.replace(path, aside)
    except FileNotFoundError:  # another process removed or replaced it first
        return
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)


def _cached_export(pipeline: Any, cache_dir: str | Path | None, options: Any, *key: Any,
                   verified_manifest: str | None = None) -> Path:
    """The export of ``pipeline`` with ``options`` in the export cache, made on first use.

    An entry is used only when every file matches the sha256 in its manifest, the manifest's
    ``source.cache_key`` is this pipeline's fingerprint and its stages compute the pipeline's own
    output (:func:`_valid_entry`); anything else is rebuilt. A new entry is exported under a unique
    temporary name and renamed into place, so two processes never mix files; when another process
    finished the same entry first, its entry is used.
    """
    root = export_cache_folder(cache_dir)
    clean_stale_temps(root)
    fingerprint = cache_fingerprint(pipeline, options, *key)
    entry = root / fingerprint[:32]
    if _valid_entry(entry, fingerprint, pipeline, verified_manifest):
        return entry
    from zoo_export.exporter import export_pipeline  # the exporter (onnx, onnxscript) only to make an entry

    options.source = {**options.source, KEY_FIELD: fingerprint}
    staging = root / temp_name(entry.name)
    try:
        export_pipeline(pipeline, staging, options)
        if (entry.exists() or entry.is_symlink()) and not _valid_entry(entry, fingerprint, pipeline):
            _discard(entry)
        try:
            os.rename(staging, entry)
        except OSError:  # another process put the same entry there meanwhile
            if not _valid_entry(entry, fingerprint, pipeline):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entry


class OnnxRuntimeBackend:
    """``zoo.build_backend("onnxruntime", fp16=False, cache_dir=None, size=None, batch=(1, 1, 4), threads=None)``.

    ``runtime(pipeline)`` exports the pipeline's stages (validated) into a cache folder keyed by
    the weights and options, and returns an :class:`OrtRuntime`; ``load(export_dir)`` rebuilds the
    SR pipeline of a zoo-export folder on top of its ONNX files.
    """

    name = "onnxruntime"

    def __init__(self, fp16: bool = False, cache_dir: str | Path | None = None, size: int | None = None,
                 batch: tuple[int, int, int] = (1, 1, 4), providers: list[str] | None = None,
                 threads: int | None = None, verified_manifest: str | None = None, **_: Any) -> None:
        self.fp16 = fp16
        self.verified_manifest = verified_manifest
        self.cache_dir = cache_dir
        self.size = size
        self.batch = tuple(batch)
        self.providers = providers
        self.threads = threads

    def runtime(self, pipeline: Any) -> OrtRuntime:
        options = export_options_for(pipeline, backend="onnx", fp16=self.fp16, size=self.size, batch=self.batch)
        entry = _cached_export(pipeline, self.cache_dir, options, verified_manifest=self.verified_manifest)
        runtime = OrtRuntime.from_dir(entry, self.providers, self.threads)
        runtime.export_dir = entry
        return runtime

    def load(self, export_dir: str | Path) -> Any:
        return pipeline_from_export(export_dir, OrtRuntime.from_dir(export_dir, self.providers, self.threads))


def validate_openvino(root: str | Path, runtime: OpenVinoRuntime) -> dict[str, Any]:
    """Check an OpenVINO runtime against ONNX Runtime on the same export folder; raises when it fails.

    Per stage: relative max difference on fixed inputs at batch 1 and 2 (tolerance of the runtime's
    precision); end to end: the export's pipeline (2 steps) through both, PSNR difference on a phantom.
    """
    from zoo_export.exporter import compare_sr

    root = Path(root)
    geometry = manifest_geometry(verify_export(root))
    reference = OrtRuntime.from_dir(root, providers=["CPUExecutionProvider"])
    calls = {"encoder": reference.encode, "denoiser": reference.denoise, "decoder": reference.decode}
    stages = {
        name: compare_stage(name, call, lambda inputs, name=name: runtime.run(name, inputs), geometry,
                            runtime.precision, batches=OPENVINO_VALIDATION_BATCHES)
        for name, call in calls.items()
    }
    e2e = compare_sr(root, reference, runtime, geometry, runtime.precision)
    report = {"reference": "onnxruntime fp32 on the same files", "precision": runtime.precision,
              "stages": stages, "end_to_end": e2e,
              "passed": all(s["passed"] for s in stages.values()) and e2e["passed"]}
    if not report["passed"]:
        problems = [f"{n}: rel diff {s['rel_diff']} > {s['tolerance']}" for n, s in stages.items() if not s["passed"]]
        if not e2e["passed"]:
            problems.append(f"end-to-end SR: dPSNR {e2e['delta_psnr_db']} dB > {e2e['tolerance_db']} dB")
        raise ExportValidationError(f"openvino {runtime.precision} failed validation: " + "; ".join(problems))
    return report


class OpenVinoBackend:
    """``zoo.build_backend("openvino", precision="auto", cache_dir=None, size=None, batch=(1, 1, 4), threads=None)``.

    ``runtime(pipeline)`` exports the pipeline's fp32 ONNX stages (validated against PyTorch, cached
    like the ``onnxruntime`` backend's), compiles them with OpenVINO in ``precision`` and validates
    the result; ``load(export_dir)`` does the same on a zoo-export folder. ``precision``: ``auto``
    (bf16 where the CPU computes bf16 natively, else fp32), ``bf16`` or ``fp32``.
    """

    name = "openvino"

    def __init__(self, precision: str = "auto", cache_dir: str | Path | None = None, size: int | None = None,
                 batch: tuple[int, int, int] = (1, 1, 4), threads: int | None = None,
                 verified_manifest: str | None = None, **_: Any) -> None:
        if precision not in CHOICES:
            raise ValueError(f"openvino precision must be one of {', '.join(CHOICES)}, got {precision!r}")
        self.precision = precision
        self.cache_dir = cache_dir
        self.size = size
        self.batch = tuple(batch)
        self.threads = threads
        self.verified_manifest = verified_manifest

    def _open(self, root: Path) -> OpenVinoRuntime:
        runtime = OpenVinoRuntime.from_dir(root, self.precision, self.threads)
        runtime.export_dir = root
        if self.verified_manifest is not None and manifest_sha256(root) == self.verified_manifest:
            runtime.validation = {"passed": True, "reference": "a recorded validation of the same files"}
        else:
            runtime.validation = validate_openvino(root, runtime)
        return runtime

    def runtime(self, pipeline: Any) -> OpenVinoRuntime:
        import_openvino()  # before any export work: a missing package is a clear, early error
        if torch.device(pipeline.device).type != "cpu":
            raise ValueError(f"the openvino backend runs on the CPU; the pipeline is on {pipeline.device}")
        options = export_options_for(pipeline, backend="onnx", fp16=False, size=self.size, batch=self.batch)
        return self._open(_cached_export(pipeline, self.cache_dir, options, verified_manifest=self.verified_manifest))

    def load(self, export_dir: str | Path) -> Any:
        return pipeline_from_export(export_dir, self._open(Path(export_dir)), self.name)


class TensorRTBackend:
    """``zoo.build_backend("tensorrt", size=None, batch=(1, 1, 4), cache_dir=None)`` (CUDA only).

    ``runtime(pipeline)`` exports fp16 ONNX and builds engines into a cache folder (keyed by
    weights, options, TensorRT version and GPU); ``load(export_dir)`` runs a zoo-export folder.
    """

    name = "tensorrt"

    def __init__(self, size: int | None = None, batch: tuple[int, int, int] = (1, 1, 4),
                 cache_dir: str | Path | None = None, builder_optimization_level: int = 3, **_: Any) -> None:
        self.size = size
        self.batch = tuple(batch)
        self.cache_dir = cache_dir
        self.builder_optimization_level = builder_optimization_level

    def _options(self, pipeline: Any) -> Any:
        options = export_options_for(pipeline, backend="trt", fp16=True, size=self.size, batch=self.batch)
        options.builder_optimization_level = self.builder_optimization_level
        return options

    def runtime(self, pipeline: Any) -> TrtRuntime:
        env = current_environment()  # checks CUDA and TensorRT first
        entry = _cached_export(pipeline, self.cache_dir, self._options(pipeline), env)
        runtime = TrtRuntime(entry)
        runtime.export_dir = entry  # the auto backend's record names its manifest
        return runtime

    def cached_engine(self, pipeline: Any) -> Path | None:
        """The cache entry holding valid engines of ``pipeline`` for this GPU and TensorRT, or None when none was
        built yet (builds nothing; the ``auto`` backend runs TensorRT only where this finds one)."""
        env = current_environment()  # checks CUDA and TensorRT first
        fingerprint = cache_fingerprint(pipeline, self._options(pipeline), env)
        entry = export_cache_folder(self.cache_dir) / fingerprint[:32]
        return entry if _valid_entry(entry, fingerprint, pipeline) else None

    def load(self, export_dir: str | Path) -> Any:
        return pipeline_from_export(export_dir, TrtRuntime(export_dir), self.name)
