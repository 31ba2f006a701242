"""TensorRT engine building (strongly typed fp16 from the fp16 ONNX), guarded so it never segfaults.

Without a usable CUDA device TensorRT crashes the process (``deserialize_cuda_engine`` segfaults
after ``Runtime()`` fails CUDA init, reference export.md §1.6), so :func:`require_cuda` runs first
and ``tensorrt`` is imported only after it. Engines are built strongly typed
(``NetworkDefinitionCreationFlag.STRONGLY_TYPED``): the fp16 precision comes from the fp16 ONNX,
which is the only way on TensorRT 11 (``BuilderFlag.FP16`` was removed) and works on 10.x.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.ops.geometry import Geometry
from zoo_export.stages import STAGE_IO, stage_shapes

MIN_TRT_MAJOR = 10


class TensorRTUnavailable(ZooError, RuntimeError):
    """No CUDA device, or TensorRT is not installed / too old. Raised before any TensorRT call."""


class EngineMismatchError(ZooError, RuntimeError):
    """An engine was built for another TensorRT version or GPU; it must be rebuilt here."""


def require_cuda() -> None:
    """Raise :class:`TensorRTUnavailable` unless a CUDA device is usable (checked without TensorRT)."""
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        build = torch.version.cuda
        detail = "this PyTorch build has no CUDA support" if build is None else "no CUDA device is visible"
        raise TensorRTUnavailable(
            f"TensorRT needs an NVIDIA GPU with CUDA, but {detail}; "
            "use --backend onnx here, or run zoo-export --backend trt on a GPU machine"
        )


def import_tensorrt() -> Any:
    """``tensorrt`` after the CUDA check, with a clear error if it is missing or older than 10."""
    require_cuda()
    try:
        import tensorrt as trt
    except ImportError as err:
        raise TensorRTUnavailable(
            f"TensorRT is not installed ({err}); pip install 'zoo-export[trt]' (needs NVIDIA's package index)"
        ) from err
    major = int(trt.__version__.split(".")[0])
    if major < MIN_TRT_MAJOR:
        raise TensorRTUnavailable(f"TensorRT {trt.__version__} is too old; strongly typed fp16 engines need >= 10")
    return trt


def current_environment(trt: Any = None) -> dict[str, Any]:
    """TensorRT version, GPU name and compute capability of this machine (CUDA checked first)."""
    import torch

    trt = trt or import_tensorrt()
    major, minor = torch.cuda.get_device_capability(0)
    return {
        "tensorrt_version": trt.__version__,
        "gpu_name": torch.cuda.get_device_name(0),
        "compute_capability": f"{major}.{minor}",
    }


def check_engine_compatible(engine: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse (before deserialising) an engine built for another TensorRT version, GPU or SM."""
    problems = [
        f"{key.replace('_', ' ')} {engine.get(key)!r} (here {current[key]!r})"
        for key in ("tensorrt_version", "compute_capability", "gpu_name")
        if engine.get(key) != current[key]
    ]
    if problems:
        raise EngineMismatchError(
            f"engine {engine.get('file', '?')} was built for another machine: " + "; ".join(problems)
            + ". TensorRT engines are not portable: rebuild it here with zoo-export --backend trt"
        )


def stage_profile(stage: str, geometry: Geometry, batch: tuple[int, int, int]) -> dict[str, list[list[int]]]:
    """Input name -> [min, opt, max] shapes: the batch range at the export's (static) sizes."""
    gen_shapes = {}
    for name, shape in zip(STAGE_IO[stage][0], stage_shapes(stage, geometry), strict=True):
        gen_shapes[name] = [[b, *shape] for b in batch]
    return gen_shapes


def build_engine(
    onnx_path: Path, engine_path: Path, profile: dict[str, list[list[int]]], optimization_level: int = 3,
    timing_cache: Path | None = None, workspace_gib: float = 8.0,
) -> dict[str, Any]:
    """Build a strongly typed engine from ``onnx_path``; returns its manifest entry (without sha256)."""
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if hasattr(trt.OnnxParserFlag, "NATIVE_INSTANCENORM"):  # GroupNorm is exported as InstanceNorm
        parser.set_flag(trt.OnnxParserFlag.NATIVE_INSTANCENORM)
    if not parser.parse_from_file(str(onnx_path)):  # resolves external data beside the file
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"{onnx_path}: TensorRT could not parse the ONNX: {errors}")
    config = builder.create_builder_config()
    config.builder_optimization_level = int(optimization_level)
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    optimization_profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profile.items():
        optimization_profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(optimization_profile)
    cache_bytes = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    engine_path.write_bytes(bytes(plan))
    if timing_cache is not None:
        from zoo.folders.atomic import write_bytes

        write_bytes(timing_cache, bytes(config.get_timing_cache().serialize()))
    return {
        **current_environment(trt),
        "strongly_typed": True,
        "builder_optimization_level": int(optimization_level),
        "profile": profile,
        "build_seconds": round(time.perf_counter() - start, 1),
        "timing_cache": str(timing_cache) if timing_cache is not None else None,
    }


def default_timing_cache() -> Path:
    """Per-GPU, per-TensorRT timing cache in zoo's private per-user cache (:mod:`zoo.folders.cache`)."""
    from zoo.folders.cache import cache_dir

    env = current_environment()
    gpu = "".join(c if c.isalnum() else "-" for c in env["gpu_name"])
    root = cache_dir("tensorrt")
    return root / f"timing-{gpu}-sm{env['compute_capability']}-trt{env['tensorrt_version']}.cache"


def build_stage_engines(root: Path, stages: dict[str, dict], geometry: Geometry, options: Any) -> None:
    """Build ``<stage>/model.plan`` for each stage from its chosen ONNX; adds ``engine`` to each entry."""
    cache = Path(options.timing_cache) if options.timing_cache else default_timing_cache()
    cache.parent.mkdir(parents=True, exist_ok=True)
    for name, entry in stages.items():
        engine_file = root / name / "model.plan"
        info = build_engine(
            root / entry["onnx"], engine_file, stage_profile(name, geometry, tuple(options.batch)),
            options.builder_optimization_level, cache, options.workspace_gib,
        )
        from zoo.weights import sha256_file

        entry["engine"] = {"file": engine_file.relative_to(root).as_posix(), "sha256": sha256_file(engine_file), **info}
