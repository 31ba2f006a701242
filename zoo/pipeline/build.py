"""Build an :class:`~zoo.pipeline.sr_pipeline.SRPipeline`: from components (:func:`build_pipeline`), from a
saved folder (:func:`open_saved_pipeline`), or from any saved, export or hub folder (:func:`load_pipeline`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from zoo.errors import MissingWeightsError
from zoo.pipeline.config import PipelineConfig
from zoo.pipeline.sr_pipeline import SRPipeline

__all__ = ["build_pipeline", "default_pipeline", "load_pipeline", "open_saved_pipeline"]

_DEFAULTS = PipelineConfig()


def build_pipeline(
    vae: Any = "medvae-4-3",
    denoiser: Any = "unet",
    sampler: Any = "ddim",
    steps: int | None = _DEFAULTS.steps,
    scale: int = _DEFAULTS.scale,
    pretrained: bool = True,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | str | None = None,
    backend: Any = "torch",
    *,
    hr_size: int = 256,
    vae_weights: Any = None,
    denoiser_weights: Any = None,
    pretrained_denoiser: bool | None = None,
    vae_config: dict[str, Any] | None = None,
    denoiser_config: dict[str, Any] | None = None,
    sampler_config: dict[str, Any] | None = None,
    **options: Any,
) -> SRPipeline:
    """Compose an SR pipeline from any registered autoencoder, denoiser, sampler and backend.

    Each component is a name, a card or a built object. A denoiser given by name is built by
    :func:`zoo.default_denoiser` for the autoencoder's latent channels and the latent size of
    ``hr_size`` images (its layout, e.g. where attention sits, follows that size). ``pretrained``
    loads default weights for the autoencoder and (unless ``pretrained_denoiser`` says otherwise)
    the denoiser; ``*_weights`` override it. ``steps``, ``scale``, ``dtype`` and the keyword
    ``options`` (``conditioning``, ``residual``, ``pixel_skip``, ``data_consistency``, ``schedule``,
    ``latent_stats``: any :class:`~zoo.pipeline.config.PipelineConfig` field) make the pipeline's
    config, checked before any component is built; ``steps=None`` uses the sampler's default. The
    backend's runtime is built here, once.

    Example: ``build_pipeline("medvae-4-3", "unet", "ddim", steps=50, pretrained_denoiser=False)``.
    """
    from zoo.factory import build_autoencoder, build_sampler, default_denoiser
    from zoo.registry import get_card

    config = PipelineConfig(steps=steps, scale=scale, dtype=dtype, **options)
    ae = build_autoencoder(vae, weights=vae_weights, pretrained=pretrained, **(vae_config or {}))
    den = denoiser
    if not isinstance(denoiser, torch.nn.Module):
        den_pretrained = pretrained if pretrained_denoiser is None else pretrained_denoiser
        try:
            den = default_denoiser(ae, hr_size, denoiser, weights=denoiser_weights, pretrained=den_pretrained,
                                   **(denoiser_config or {}))
        except MissingWeightsError as err:
            raise MissingWeightsError(
                f"denoiser {get_card('denoiser', denoiser).name!r} has no default weights: pass "
                "denoiser_weights=PATH, or pretrained_denoiser=False for a new (random) denoiser to train"
            ) from err
    pipe = SRPipeline(ae, den, build_sampler(sampler, **(sampler_config or {})), config, backend, device)
    pipe.build_runtime()
    return pipe


def open_saved_pipeline(
    path: str | os.PathLike, device: torch.device | str = "cpu", backend: Any = "torch",
) -> SRPipeline:
    """The pipeline of a saved folder (``zoo_pipeline.json``) on ``backend``, its runtime built.

    It never follows an export manifest: a backend whose ``load(folder)`` wraps a saved pipeline
    calls it with ``backend=self``.
    """
    from zoo.pipeline.saved import read_pipeline

    saved = read_pipeline(path)
    pipe = SRPipeline(saved.vae, saved.denoiser, saved.sampler, saved.options, backend, device)
    pipe.build_runtime()
    return pipe


def default_pipeline(device: torch.device | str = "cpu", backend: Any = "auto") -> SRPipeline:
    """The embedded default pipeline (``zoo.assets.DEFAULT_PIPELINE_DIR``: 4x, 64² -> 256² and larger, trained on
    the bundled samples); what ``zoo sr`` and ``zoo demo`` run without ``--pipeline``. No network needed.
    ``backend``: as :func:`load_pipeline` (default ``"auto"``)."""
    from zoo.assets import DEFAULT_PIPELINE_DIR

    return load_pipeline(DEFAULT_PIPELINE_DIR, device, backend)


def load_pipeline(
    path: str | os.PathLike, device: torch.device | str = "cpu", backend: Any = "auto",
) -> SRPipeline:
    """Open a saved pipeline folder, or an export folder (``manifest.json`` with a ``"backend"`` key); ``path``
    may be ``"hf:owner/repo"`` or ``"hf:owner/repo@revision"`` (from the Hugging Face cache, else downloaded).

    A saved pipeline runs on ``backend`` (a name, or a built backend; default ``"auto"``: the fastest installed
    runtime validated against torch on this machine, else torch; ``"torch"`` forces PyTorch eager). An
    export is opened by ``backend`` if given (e.g. ``"openvino"`` on an ONNX export), else (``None`` or
    ``"auto"``) by the backend that wrote it: ``build_backend(name).load(path)``.
    """
    from zoo.factory import build_backend
    from zoo.pipeline.hub import is_hub_spec, open_hub_pipeline
    from zoo.pipeline.saved import EXPORT_MANIFEST, PipelineFileError, export_backend_name
    from zoo.registry import installed_card

    if is_hub_spec(path):
        return open_hub_pipeline(str(path), lambda snapshot: load_pipeline(snapshot, device, backend))
    folder = Path(path).expanduser()
    written_by = export_backend_name(folder)
    if written_by is None:
        return open_saved_pipeline(folder, device, backend or "auto")
    if backend == "auto":
        backend = None
    if isinstance(backend, str | None):
        where = f"{folder / EXPORT_MANIFEST}: backend"
        backend = build_backend(backend or installed_card("backend", written_by, where))
    if not hasattr(backend, "load"):
        raise PipelineFileError(f"{folder}: an export folder holds no PyTorch weights; this backend cannot open "
                                f"exports (open it with {written_by!r}, the backend that wrote it)")
    return backend.load(folder)
