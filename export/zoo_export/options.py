"""What an export is asked for and what it records: :class:`ExportOptions` (with the HR size rule) and
the pipeline record that an export folder keeps as ``pipeline.json`` (:func:`pipeline_record`,
:data:`RECORD_SCHEMA`). The lowest layer of zoo-export: it imports no other part of it but the
folder layout (:mod:`zoo_export.manifest`) and the stage names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from zoo.autoencoders.saved import card_schema
from zoo.errors import ZooError
from zoo.folders.schema import Architecture, Int, Obj, Str
from zoo.ops.geometry import Geometry
from zoo.pipeline.saved import OPTIONAL_OPTIONS, OPTIONS
from zoo.registry import is_distribution_name, is_version
from zoo_export.manifest import MANIFEST, PIPELINE_JSON, PIPELINE_SUBDIR
from zoo_export.stages import STAGES


class ExportSizeError(ZooError, ValueError):
    """``--size`` does not fit the models (VAE factor, SR scale, denoiser size multiple)."""


@dataclass
class ExportOptions:
    """How to export. ``size`` is the HR image side; the encoder sees ``size // scale`` (lr-latent)."""

    backend: str = "onnx"
    fp16: bool = False
    keep_io_fp32: bool = True
    batch: tuple[int, int, int] = (1, 1, 4)
    size: int = 256
    scale: int = 4
    conditioning: str = "lr-latent"
    dynamic_size: bool = True
    dynamo: bool = True
    opset: int | None = None
    force: bool = False
    seed: int = 0
    builder_optimization_level: int = 3
    timing_cache: str | None = None
    workspace_gib: float = 8.0
    progress: bool = False
    source: dict[str, Any] = field(default_factory=dict)

    def geometry(self, vae: Any) -> Geometry:
        """The shapes of the export of ``vae`` at these options' size, scale and conditioning."""
        return Geometry(int(vae.in_channels), int(vae.latent_channels), int(vae.downsample_factor), int(self.size),
                        int(self.scale), self.conditioning)

    def validate(self) -> None:
        lo, opt, hi = self.batch
        if not 1 <= lo <= opt <= hi:
            raise ValueError(f"--batch {lo}:{opt}:{hi} must satisfy 1 <= MIN <= OPT <= MAX")
        if self.backend not in ("onnx", "trt"):
            raise ValueError(f"backend must be 'onnx' or 'trt', got {self.backend!r}")
        if self.conditioning not in ("lr-latent", "bicubic-latent"):
            raise ValueError(f"conditioning must be 'lr-latent' or 'bicubic-latent', got {self.conditioning!r}")


def export_options_for(pipeline: Any, backend: str, fp16: bool, size: int | None, batch: tuple) -> ExportOptions:
    """Export options that fit ``pipeline`` (its scale and conditioning; H/W dynamic for ORT)."""
    return ExportOptions(
        backend=backend, fp16=fp16, batch=tuple(batch), size=size or 256, scale=pipeline.scale,
        conditioning=pipeline.conditioning, dynamic_size=True,
    )


def export_files() -> tuple[str, ...]:
    """What an export writes at the top of its folder (all that ``--overwrite`` replaces)."""
    return (*STAGES, PIPELINE_SUBDIR, PIPELINE_JSON, MANIFEST)


def check_size(options: ExportOptions, downsample_factor: int, size_multiple: int = 1) -> None:
    """Refuse, before any work, an HR ``size`` the three stages cannot be exported at.

    The encoder's input (``size / scale``, or ``size`` for bicubic-latent) must be a multiple of the VAE
    factor ``f``; the HR latent (``size / f``) a multiple of the denoiser's ``size_multiple``; with
    dynamic sizes every exported side must be at least twice its multiple (a side of one multiple is
    fixed by the exporter).
    """
    f, m, size = int(downsample_factor), max(int(size_multiple), 1), int(options.size)
    geometry = Geometry(1, 1, f, size, int(options.scale), options.conditioning)  # channels play no part here
    scale = geometry.encode_scale
    step = geometry.hr_step(m)
    least = 2 if options.dynamic_size else 1
    smallest = step * max(1, math.ceil(least * max(scale * f, f * m) / step))
    if size < smallest or size % step:
        parts = [f"SR scale {scale}"] if scale > 1 else []
        parts += [f"VAE downsample factor {f}"] + ([f"denoiser size multiple {m} (in latent pixels)"] if m > 1 else [])
        raise ExportSizeError(
            f"--size {size}: the models need an HR side that is a multiple of {step} ({', '.join(parts)}) and at "
            f"least {smallest}{' for a size-dynamic export' if options.dynamic_size else ''}; e.g. --size "
            f"{max(smallest, step * max(1, round(size / step)))}")


SAMPLER_PROVIDER = {"distribution": Str(test=is_distribution_name, what="a distribution name"),
                    "distribution_version": Str(test=is_version, what="a version string")}
"""The distribution (and version) that provides the sampler: loading the export needs it installed."""
RECORD_SCHEMA = Obj(
    {
        "vae": Obj({"card": card_schema()}),
        "denoiser": Obj({"name": Str(null=True), "config": Architecture(), "latent_channels": Int(1),
                         "prediction_type": Str(("x0", "eps", "v")), "size_multiple": Int(1)}),
        "sampler": Obj({"name": Str(what="a component name"), "config": Architecture()}, SAMPLER_PROVIDER),
        **OPTIONS,
    },
    OPTIONAL_OPTIONS,
)
"""Schema of an export's ``pipeline.json``."""


def pipeline_record(pipeline: Any) -> dict[str, Any]:
    """What ``pipeline.json`` holds besides the networks (JSON-friendly): the pipeline's options, its sampler,
    and the autoencoder's and denoiser's metadata."""
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
        "sampler": {"name": pipeline.sampler.name, "config": dict(pipeline.sampler.config),
                    **_sampler_provider(pipeline.sampler)},
        **pipeline.config(),
    }


def _sampler_provider(sampler: Any) -> dict[str, str]:
    """``distribution`` and ``distribution_version`` of the sampler's card ({} for a process-local one)."""
    from zoo.registry import provider

    card = getattr(sampler, "card", None)
    found = provider("sampler", card) if card is not None else None
    return {} if found is None else {"distribution": found.distribution, "distribution_version": found.version}
