"""Glue between zoo's :class:`~zoo.pipeline.SRPipeline` and export folders.

An export folder holds ``pipeline.json`` (the pipeline's options, sampler, and the autoencoder's
and denoiser's metadata); :func:`pipeline_from_export` rebuilds an ``SRPipeline`` whose
autoencoder and denoiser are thin modules that call the exported runtime. ``pipeline.json`` is
data: it is checked against :data:`SCHEMA`, its sampler resolves through the registry, and the
autoencoder's card is kept without a factory (an exported autoencoder is never rebuilt).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from zoo.autoencoders.base import Autoencoder
from zoo.autoencoders.saved import card_schema
from zoo.cards import AutoencoderCard, CardError
from zoo.denoisers.base import Denoiser
from zoo.folder_paths import inside
from zoo.folder_schema import Int, Json, MapOf, Obj, Str, read_json
from zoo.pipeline_files import OPTIONAL_OPTIONS, OPTIONS
from zoo_export.manifest import PIPELINE_JSON, ManifestError

NOT_REBUILDABLE = "zoo_export.pipelines:not_rebuildable"
SCHEMA = Obj(
    {
        "vae": Obj({"card": card_schema()}),
        "denoiser": Obj({"name": Str(null=True), "config": MapOf(Json()), "latent_channels": Int(1),
                         "prediction_type": Str(("x0", "eps", "v")), "size_multiple": Int(1)}),
        "sampler": Obj({"name": Str(what="a component name"), "config": MapOf(Json())}),
        **OPTIONS,
    },
    OPTIONAL_OPTIONS,
)
"""Schema of an export's ``pipeline.json``."""


def not_rebuildable(**_: Any) -> None:
    """The factory of an exported autoencoder's card: it runs in its export and is never rebuilt."""
    raise ManifestError("this autoencoder was opened from an export folder: it runs in the export's runtime "
                        "and cannot be rebuilt from its card")


class ExportedAutoencoder(Autoencoder):
    """An autoencoder whose encode/decode run in an exported runtime (no torch weights)."""

    def __init__(self, card: AutoencoderCard, runtime: Any) -> None:
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

    def __init__(self, info: dict[str, Any], runtime: Any) -> None:
        super().__init__(info["latent_channels"], info["prediction_type"], info["size_multiple"], info["config"])
        self.runtime = runtime
        self.card = None

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self.check_inputs(x_t, cond)
        return self.runtime.denoise(x_t, t, cond)


class LoadedBackend:
    """The backend of a pipeline rebuilt from an export: hands out the already opened runtime."""

    def __init__(self, name: str, runtime: Any) -> None:
        self.name, self._runtime = name, runtime

    def runtime(self, pipeline: Any) -> Any:
        return self._runtime


def stage_components(pipeline: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    """CPU float32 copies of a pipeline's autoencoder and denoiser (export runs on CPU, in fp32)."""
    vae = copy.deepcopy(pipeline.vae).to("cpu", torch.float32).eval()
    den = copy.deepcopy(pipeline.denoiser).to("cpu", torch.float32).eval()
    return vae, den


def export_options_for(pipeline: Any, backend: str, fp16: bool, size: int | None, batch: tuple) -> Any:
    """Export options that fit ``pipeline`` (its scale and conditioning; H/W dynamic for ORT)."""
    from zoo_export.exporter import ExportOptions

    return ExportOptions(
        backend=backend, fp16=fp16, batch=tuple(batch), size=size or 256, scale=pipeline.scale,
        conditioning=pipeline.conditioning, dynamic_size=True,
    )


def pipeline_record(pipeline: Any) -> dict[str, Any]:
    """What :func:`pipeline_from_export` needs besides the networks (JSON-friendly)."""
    den = pipeline.denoiser
    den_card = getattr(den, "card", None)
    card = {k: v for k, v in pipeline.vae.card.to_dict().items() if k not in ("kind", "factory")}
    return {
        "vae": {"card": card},
        "denoiser": {
            "name": den_card.name if den_card is not None else None,
            "config": dict(getattr(den, "config", {})),
            "latent_channels": int(den.latent_channels),
            "prediction_type": den.prediction_type,
            "size_multiple": int(den.size_multiple),
        },
        "sampler": {"name": pipeline.sampler.name, "config": dict(pipeline.sampler.config)},
        **pipeline.config(),
    }


def _card_from_dict(data: dict[str, Any], where: Path) -> AutoencoderCard:
    fields = {k: tuple(v) if k in ("aliases", "modality") else v for k, v in data.items()}
    try:
        return AutoencoderCard(**fields, factory=NOT_REBUILDABLE)
    except (CardError, TypeError) as err:
        raise ManifestError(f"{where}: vae.card: {err}") from err


def pipeline_from_export(root: str | Path, runtime: Any, backend_name: str = "onnxruntime") -> Any:
    """An ``SRPipeline`` running ``runtime`` (opened on ``root``) with the options in ``root/pipeline.json``."""
    from zoo.factory import build_sampler
    from zoo.pipeline import SRPipeline
    from zoo.pipeline_config import PipelineConfig
    from zoo.registry import installed_card

    path = Path(root) / PIPELINE_JSON
    if not path.is_file():
        raise ManifestError(f"{path}: missing; this export holds the networks only (export it with zoo-export 0.1+)")
    data = read_json(inside(root, PIPELINE_JSON, PIPELINE_JSON, root), SCHEMA)
    vae = ExportedAutoencoder(_card_from_dict(data["vae"]["card"], path), runtime)
    denoiser = ExportedDenoiser(data["denoiser"], runtime)
    sampler = installed_card("sampler", data["sampler"]["name"], f"{path}: sampler.name")
    try:
        # the exported stages take and give float32 whatever dtype the source pipeline ran in
        options = PipelineConfig.from_dict(data).replace(dtype="float32")
        return SRPipeline(vae, denoiser, build_sampler(sampler, **data["sampler"]["config"]), options,
                          LoadedBackend(backend_name, runtime))
    except (TypeError, ValueError) as err:
        raise ManifestError(f"{path}: {err}") from err
