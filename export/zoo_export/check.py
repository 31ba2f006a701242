"""``zoo-export validate``: re-check an export folder where it is (integrity, loading, dynamic batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo_export.manifest import manifest_geometry, verify_export
from zoo_export.stages import STAGE_IO, stage_shapes

CHECK_BATCHES = (1, 3)


def check_export(root: str | Path) -> dict[str, Any]:
    """Manifest + sha256 (raises ``ManifestError``), then each ONNX file run at batch 1 and 3."""
    import onnxruntime as ort

    from zoo_export.runtime_ort import ORT_DTYPES

    root = Path(root)
    manifest = verify_export(root, require_ok=False)
    geometry = manifest_geometry(manifest)
    checks: dict[str, str] = {"manifest and sha256": "ok"}
    ok = True
    rng = np.random.default_rng(0)
    for name, stage in manifest["stages"].items():
        if stage["status"] != "ok":
            checks[f"{name} status"] = f"failed at export: {stage.get('error')}"
            ok = False
        session = ort.InferenceSession(str(root / stage["onnx"]), providers=["CPUExecutionProvider"])
        shapes = dict(zip(STAGE_IO[name][0], stage_shapes(name, geometry), strict=True))
        results = []
        for batch in CHECK_BATCHES:
            feeds = {}
            for meta in session.get_inputs():
                dims = [batch, *shapes[meta.name]]
                dtype = ORT_DTYPES[meta.type]
                data = rng.integers(0, 1000, dims) if dtype == np.int64 else rng.standard_normal(dims)
                feeds[meta.name] = data.astype(dtype)
            out = session.run(None, feeds)[0]
            good = out.shape[0] == batch and bool(np.isfinite(out).all())
            ok &= good
            results.append(f"batch {batch}: {list(out.shape)}{'' if good else ' NOT OK'}")
        checks[f"{name} onnx ({stage['precision']})"] = "; ".join(results)
        if "engine" in stage:
            checks[f"{name} engine"] = _engine_check(stage["engine"])
    return {"ok": ok, "checks": checks, "manifest": manifest}


def _engine_check(engine: dict[str, Any]) -> str:
    """Compare the engine's target with this machine, without deserialising (never crashes)."""
    from zoo_export.trt import EngineMismatchError, TensorRTUnavailable, check_engine_compatible, current_environment

    try:
        check_engine_compatible(engine, current_environment())
    except TensorRTUnavailable as err:
        return f"not checked here ({err})"
    except EngineMismatchError as err:
        return str(err)
    return f"ok for {engine['gpu_name']} (sm {engine['compute_capability']}, TensorRT {engine['tensorrt_version']})"
