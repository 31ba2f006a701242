"""Glue between zoo's :class:`~zoo.pipeline.SRPipeline` and export folders.

An export folder holds ``pipeline.json`` (:func:`zoo_export.options.pipeline_record`);
:func:`pipeline_from_export` rebuilds an ``SRPipeline`` whose autoencoder and denoiser are thin
modules that call a runtime opened on the export's files (any :class:`zoo.backends.base.Runtime`:
this module imports no runtime and no exporter). ``pipeline.json`` is data: it is checked against
:data:`~zoo_export.options.RECORD_SCHEMA`, its sampler resolves through the registry, and the
autoencoder's card is kept without a factory (an exported autoencoder is never rebuilt).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from zoo.autoencoders.base import Autoencoder
from zoo.backends.base import Runtime
from zoo.cards import AutoencoderCard, CardError
from zoo.denoisers.base import Denoiser
from zoo.folders.paths import inside
from zoo.folders.schema import read_json
from zoo_export.manifest import PIPELINE_JSON, ManifestError
from zoo_export.options import RECORD_SCHEMA

NOT_REBUILDABLE = "zoo_export.pipelines:not_rebuildable"


def not_rebuildable(**_: Any) -> None:
    """The factory of an exported autoencoder's card: it runs in its export and is never rebuilt."""
    raise ManifestError("this autoencoder was opened from an export folder: it runs in the export's runtime "
                        "and cannot be rebuilt from its card")


class ExportedAutoencoder(Autoencoder):
    """An autoencoder whose encode/decode run in an exported runtime (no torch weights)."""

    def __init__(self, card: AutoencoderCard, runtime: Runtime) -> None:
        super().__init__(card)
        self.in_channels, self.latent_channels = card.in_channels, card.latent_channels
        self.downsample_factor = card.downsample_factor
        self.runtime = runtime

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.runtime.encode(x)
        return mean, torch.zeros_like(mean)  # the export holds the posterior mode only

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.runtime.decode(z)


class ExportedDenoiser(Denoiser):
    """A denoiser whose forward runs in an exported runtime."""

    def __init__(self, info: dict[str, Any], runtime: Runtime) -> None:
        super().__init__(info["latent_channels"], info["prediction_type"], info["size_multiple"], info["config"])
        self.runtime = runtime
        self.card = None

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self.check_inputs(x_t, cond)
        return self.runtime.denoise(x_t, t, cond)


class LoadedBackend:
    """The backend of a pipeline rebuilt from an export: hands out the already opened runtime."""

    def __init__(self, name: str, runtime: Runtime) -> None:
        self.name, self._runtime = name, runtime

    def runtime(self, pipeline: Any) -> Runtime:
        return self._runtime


def _card_from_dict(data: dict[str, Any], where: Path) -> AutoencoderCard:
    fields = {k: tuple(v) if k in ("aliases", "modality") else v for k, v in data.items()}
    try:
        return AutoencoderCard(**fields, factory=NOT_REBUILDABLE)
    except (CardError, TypeError) as err:
        raise ManifestError(f"{where}: vae.card: {err}") from err


def pipeline_from_export(root: str | Path, runtime: Runtime, backend_name: str = "onnxruntime") -> Any:
    """An ``SRPipeline`` running ``runtime`` (opened on ``root``) with the options in ``root/pipeline.json``."""
    from zoo.factory import build_sampler
    from zoo.pipeline.config import PipelineConfig
    from zoo.pipeline.sr_pipeline import SRPipeline
    from zoo.registry import Provider, installed_card

    path = Path(root) / PIPELINE_JSON
    if not os.path.lexists(path):
        raise ManifestError(f"{path}: missing; this export holds the networks only (export it with zoo-export 0.1+)")
    data = read_json(inside(root, PIPELINE_JSON, PIPELINE_JSON, root), RECORD_SCHEMA)
    vae = ExportedAutoencoder(_card_from_dict(data["vae"]["card"], path), runtime)
    denoiser = ExportedDenoiser(data["denoiser"], runtime)
    ref = data["sampler"]
    needs = Provider(ref["distribution"], ref.get("distribution_version", "")) if "distribution" in ref else None
    sampler = installed_card("sampler", ref["name"], f"{path}: sampler.name", needs)
    try:
        # the exported stages take and give float32 whatever dtype the source pipeline ran in
        options = PipelineConfig.from_dict(data).replace(dtype="float32")
        return SRPipeline(vae, denoiser, build_sampler(sampler, **data["sampler"]["config"]), options,
                          LoadedBackend(backend_name, runtime))
    except (TypeError, ValueError) as err:
        raise ManifestError(f"{path}: {err}") from err
