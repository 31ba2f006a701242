"""Export the encoder, denoiser and decoder into a validated folder (ONNX, optionally TensorRT engines).

Everything is written into a temporary folder beside the target and renamed over it only when
the whole export is done (``zoo.folders.atomic.atomic_dir``): a failed export leaves nothing behind.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.backends.base import Runtime
from zoo.folders.paths import files_under
from zoo.ops.geometry import Geometry
from zoo_export.manifest import (
    PIPELINE_JSON,
    PIPELINE_SUBDIR,
    geometry_record,
    hash_files,
    manifest_geometry,
    new_manifest,
    write_manifest,
)
from zoo_export.onnx_export import export_onnx, onnx_files, read_signature
from zoo_export.options import ExportOptions, check_size, export_files, pipeline_record
from zoo_export.pipelines import pipeline_from_export
from zoo_export.runtime_ort import OrtRuntime, ort_feeds
from zoo_export.stages import STAGE_IO, STAGES, stage_modules
from zoo_export.validate import (
    STAGE_TOLERANCE,
    ExportValidationError,
    TorchStages,
    compare_end_to_end,
    compare_pipelines,
    compare_stage,
)

VAE_STAGES = ("encoder", "decoder")


def _session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _stage_fp16(name: str, module: nn.Module, fp32_path: Path, geometry: Geometry, options: ExportOptions) -> dict:
    """fp16 conversion + overflow emulation; returns the precision chosen and why."""
    from zoo_export.fp16 import check_fp16_overflow, convert_to_fp16

    inputs = geometry.stage_inputs(name, 1, torch.Generator().manual_seed(options.seed + 7))
    with torch.no_grad():
        reference = module(*inputs).numpy()
    check = check_fp16_overflow(fp32_path, ort_feeds(_session(fp32_path), inputs), reference)
    info: dict[str, Any] = {"fp16_check": check.to_dict(), "fp16_fallback": None}
    if check.safe:
        info["path"] = convert_to_fp16(fp32_path, fp32_path.with_name("model_fp16.onnx"), options.keep_io_fp32)
        info["precision"] = "fp16"
    elif name in VAE_STAGES:
        info["fp16_fallback"] = f"kept fp32: {check.reason} (fp16-storage emulation)"
        info["path"], info["precision"] = fp32_path, "fp32"
    else:
        info["path"], info["precision"] = fp32_path, "fp32"
        info["error"] = f"fp16 unsafe: {check.reason}"
    return info


def _hw_multiple(name: str, module: nn.Module, geometry: Geometry) -> int:
    if name == "encoder":
        return geometry.downsample_factor
    if name == "denoiser":
        return int(getattr(module.denoiser, "size_multiple", 1))
    return 1


def _export_stage(name: str, module: nn.Module, root: Path, geometry: Geometry, options: ExportOptions) -> dict:
    names_in, names_out = STAGE_IO[name]
    example = geometry.stage_inputs(name, 2, torch.Generator().manual_seed(options.seed))
    start = time.perf_counter()
    exported = export_onnx(
        module, example, root / name / "model.onnx", names_in, names_out, dynamo=options.dynamo,
        dynamic_hw=options.dynamic_size, hw_multiple=_hw_multiple(name, module, geometry),
        opset=options.opset,
    )
    entry: dict[str, Any] = {
        "exporter": "dynamo" if options.dynamo else "torchscript",
        "opset": exported.opset,
        "external_data": exported.external_data,
        "export_seconds": round(time.perf_counter() - start, 2),
        "precision": "fp32",
    }
    path = exported.path
    error = None
    if options.fp16:
        info = _stage_fp16(name, module, path, geometry, options)
        path, error = info.pop("path"), info.pop("error", None)
        entry.update(info)
        if path != exported.path:
            for stale in onnx_files(exported.path):
                stale.unlink()
    entry["inputs"], entry["outputs"], _ = read_signature(path)
    entry["parity"] = compare_stage(name, module, _session(path), geometry, entry["precision"], seed=options.seed)
    entry["onnx"] = path.relative_to(root).as_posix()
    if error is None and not entry["parity"]["passed"]:
        error = f"ORT vs PyTorch relative error {entry['parity']['rel_diff']} > {entry['parity']['tolerance']}"
    entry["status"], entry["error"] = ("failed", error) if error else ("ok", None)
    return entry


def export_pipeline(pipeline: Any, out: str | Path, options: ExportOptions,
                    pipeline_dir: str | Path | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Export an :class:`~zoo.pipeline.SRPipeline`: its stages plus ``pipeline.json``, so that
    ``zoo.load_pipeline(out)`` runs the same SR through the exported files (see :func:`export_stages`)."""
    options.scale, options.conditioning = pipeline.scale, pipeline.conditioning
    if not set(options.source) - {"cache_key"}:  # nothing but a backend cache's fingerprint: describe the pipeline
        den_card = getattr(pipeline.denoiser, "card", None)
        options.source = {
            "pipeline": None, "vae": pipeline.vae.card.name, "denoiser": den_card.name if den_card else None,
            "vae_weights": "as given (Python API)", "denoiser_weights": "as given (Python API)", **options.source,
        }
    vae, denoiser = _stage_components(pipeline)
    return export_stages(vae, denoiser, out, options, record=pipeline_record(pipeline), pipeline_dir=pipeline_dir,
                         overwrite=overwrite)


def _stage_components(pipeline: Any) -> tuple[nn.Module, nn.Module]:
    """CPU float32 copies of a pipeline's autoencoder and denoiser (export runs on CPU, in fp32)."""
    vae = copy.deepcopy(pipeline.vae).to("cpu", torch.float32).eval()
    den = copy.deepcopy(pipeline.denoiser).to("cpu", torch.float32).eval()
    return vae, den


def check_export_matches(root: str | Path, manifest: dict[str, Any], pipeline: Any) -> list[str]:
    """Spot-check a (hash-verified) export against ``pipeline``'s own networks: each stage's ONNX on the
    export's fixed probe inputs at batch 1, within the stage tolerance. Returns the stages that differ
    (an export made from other weights), with the relative difference; empty when all match."""
    root = Path(root)
    geometry = manifest_geometry(manifest)
    modules = stage_modules(*_stage_components(pipeline))
    problems = []
    for name, stage in manifest["stages"].items():
        parity = compare_stage(name, modules[name], _session(root / stage["onnx"]), geometry, stage["precision"],
                               batches=(1,))
        if not parity["passed"]:
            problems.append(f"{name}: rel diff {parity['rel_diff']} > {parity['tolerance']}")
    return problems


def export_stages(
    vae: nn.Module, denoiser: nn.Module, out: str | Path, options: ExportOptions,
    record: dict[str, Any] | None = None, pipeline_dir: str | Path | None = None, overwrite: bool = False,
) -> dict[str, Any]:
    """Export, validate and (for ``trt``) compile the three stages into ``out``; returns the manifest.

    ``record`` (from :func:`zoo_export.options.pipeline_record`) is written as ``pipeline.json``
    and makes the end-to-end check run the real pipeline; without it a fixed probe chain is used.
    Raises :class:`ExportValidationError` (nothing written) when a stage fails its parity check,
    unless ``options.force``: then the stage is written and marked ``failed``. An existing non-empty
    ``out`` is refused unless ``overwrite``; then only the export's own entries (stage folders,
    ``pipeline/``, ``pipeline.json``, ``manifest.json``) are replaced and everything else is kept.
    """
    from zoo.folders.atomic import atomic_dir
    from zoo.folders.guard import prepare_output

    options.validate()
    out = prepare_output(out, inputs=[pipeline_dir], overwrite=overwrite, will_write=export_files())
    check_size(options, int(vae.downsample_factor), int(getattr(denoiser, "size_multiple", 1)))
    if options.backend == "trt":  # before any work: no CUDA / no TensorRT is a clear, early error
        from zoo_export.trt import import_tensorrt

        import_tensorrt()
    geometry = options.geometry(vae)
    modules = stage_modules(vae.eval(), denoiser.eval())
    with atomic_dir(out) as tmp:
        stages = {}
        for name in _progress(STAGES, options.progress):
            stages[name] = _export_stage(name, modules[name], tmp, geometry, options)
        if pipeline_dir is not None:
            _copy_pipeline_config(Path(pipeline_dir), tmp / PIPELINE_SUBDIR)
        if record is not None:
            from zoo.folders.atomic import write_text

            write_text(tmp / PIPELINE_JSON, json.dumps(record, indent=2) + "\n")
        manifest = _finish(tmp, stages, modules, geometry, options)
        if manifest["status"] != "ok" and not options.force:
            raise ExportValidationError(_failure_summary(manifest))
        write_manifest(tmp, manifest)
    return manifest


def compare_sr(root: Path, reference: Runtime, exported: Runtime, geometry: Geometry, precision: str) -> dict:
    """End-to-end SR of an export folder through two runtimes: its own pipeline (``pipeline.json``)
    where it has one, else the fixed probe chain of :func:`zoo_export.validate.compare_end_to_end`."""
    if (Path(root) / PIPELINE_JSON).is_file():
        pipes = [pipeline_from_export(root, rt, name) for rt, name in ((reference, "torch"), (exported, "export"))]
        return compare_pipelines(*pipes, geometry, precision)
    return compare_end_to_end(reference, exported, geometry, precision)


def _finish(root: Path, stages: dict, modules: dict, geometry: Geometry, options: ExportOptions) -> dict:
    runnable = all(s["status"] == "ok" for s in stages.values())
    precision = "fp16" if any(s["precision"] == "fp16" for s in stages.values()) else "fp32"
    e2e = None
    if runnable:
        exported = OrtRuntime({n: root / s["onnx"] for n, s in stages.items()})
        e2e = compare_sr(root, TorchStages(modules), exported, geometry, precision)
    if options.backend == "trt" and runnable and e2e["passed"]:
        from zoo_export.trt import build_stage_engines

        build_stage_engines(root, stages, geometry, options)
    for entry in stages.values():
        paths = onnx_files(root / entry["onnx"]) + ([root / entry["engine"]["file"]] if "engine" in entry else [])
        entry["files"] = hash_files(root, paths)
    pipeline_files = [root / PIPELINE_JSON] if (root / PIPELINE_JSON).is_file() else []
    pipeline_files += [root / rel for rel in files_under(root, PIPELINE_SUBDIR)]
    files = {rel: sha for entry in stages.values() for rel, sha in entry["files"].items()}
    ok = runnable and e2e is not None and e2e["passed"]
    return new_manifest(
        "tensorrt" if options.backend == "trt" else "onnxruntime",
        status="ok" if ok else "failed",
        precision=precision,
        created_unix=int(time.time()),
        source=options.source,
        geometry=geometry_record(geometry),
        batch={"min": options.batch[0], "opt": options.batch[1], "max": options.batch[2]},
        dynamic_size=options.dynamic_size,
        tolerances={"stage_rel": STAGE_TOLERANCE, "end_to_end_delta_psnr_db": e2e["tolerance_db"] if e2e else None},
        options={k: v for k, v in asdict(options).items() if k not in ("source", "progress")},
        stages=stages,
        end_to_end=e2e,
        pipeline_config=PIPELINE_SUBDIR if (root / PIPELINE_SUBDIR).exists() else None,
        files={**files, **hash_files(root, pipeline_files)},
    )


def _failure_summary(manifest: dict) -> str:
    problems = [f"{n}: {s['error']}" for n, s in manifest["stages"].items() if s["status"] != "ok"]
    e2e = manifest.get("end_to_end")
    if e2e is not None and not e2e["passed"]:
        problems.append(f"end-to-end SR: dPSNR {e2e['delta_psnr_db']} dB > {e2e['tolerance_db']} dB")
    return "export failed validation, nothing written (use --force to write it marked failed): " + "; ".join(problems)


def _copy_pipeline_config(src: Path, dst: Path) -> None:
    """Copy the pipeline's ``zoo_pipeline.json`` (weights live in the exported stages)."""
    from zoo.folders.paths import inside
    from zoo.pipeline.saved import PIPELINE_FILE

    dst.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(inside(src, PIPELINE_FILE, PIPELINE_FILE, src), dst / PIPELINE_FILE)


def _progress(items, enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="export", unit="stage", disable=not os.isatty(2))
