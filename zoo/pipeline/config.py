"""``PipelineConfig``: every option of an :class:`~zoo.pipeline.SRPipeline`, checked, in one frozen record.

The options and their defaults are written here once. Each field carries the schema of its JSON
value (:mod:`zoo.folders.schema`): :meth:`PipelineConfig.to_dict` / :meth:`~PipelineConfig.from_dict`
give the options stored in ``zoo_pipeline.json`` and in an export's ``pipeline.json``, and
:func:`option_schemas` the schema of those files. A new option is one new field here (files that
lack it load with its default) plus the code that uses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.folders.schema import Bool, FolderSchemaError, Int, ListOf, Number, Obj, Spec, Str, validate
from zoo.ops.ensemble import check_count
from zoo.ops.latents import LatentStats
from zoo.ops.uncertainty import FEATURES, check_weights
from zoo.samplers.schedules import NoiseSchedule, make_schedule

__all__ = ["CONDITIONINGS", "CompatibilityError", "PipelineConfig", "PipelineConfigError", "option_schemas"]

CONDITIONINGS = ("lr-latent", "bicubic-latent")
DTYPES = ("float32", "float16", "bfloat16", "float64")
WHERE = "pipeline options"
MAX_STEPS = 10_000
"""Upper bounds of the numeric options: far above any useful value, low enough that a shared folder cannot
make a run last for ever."""
MAX_SCALE = 16
MAX_TIMESTEPS = 100_000
MAX_DATA_CONSISTENCY = 100  # how errors name the options of a config (files name themselves)


class PipelineConfigError(ZooError, ValueError):
    """A pipeline option has a wrong type or value (the message names the option)."""


class CompatibilityError(ZooError, ValueError):
    """Two components, a component and a pipeline option, or two options cannot work together."""


def parse_dtype(dtype: torch.dtype | str | None) -> torch.dtype:
    """A floating torch dtype from a dtype, its name (``"float16"``, ``"torch.float16"``) or None (float32)."""
    if dtype is None:
        return torch.float32
    value = getattr(torch, dtype.removeprefix("torch."), None) if isinstance(dtype, str) else dtype
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise ValueError(f"unknown floating dtype {dtype!r}")
    return value


def _latent_stats(value: Any) -> LatentStats | None:
    if value is None or isinstance(value, LatentStats):
        return value
    if isinstance(value, dict):
        return LatentStats.from_dict(value)
    raise TypeError(f"expected LatentStats or {{'mean': [...], 'std': [...]}}, got {type(value).__name__}")


def _option(
    spec: Spec, *, doc: str, default: Any = dataclasses.MISSING, default_factory: Any = dataclasses.MISSING,
    in_every_file: bool = False, parse: Callable[[Any], Any] | None = None,
    to_json: Callable[[Any], Any] | None = None, filled_by_pipeline: bool = False,
) -> Any:
    """A :class:`PipelineConfig` field. ``spec``: the schema of its JSON value (``null=True`` if None is a
    value); ``parse``: any accepted value (the JSON one included) -> the stored one; ``to_json``: the
    reverse (for a non-None value); ``in_every_file``: every pipeline file holds it (options added
    later are optional in files); ``filled_by_pipeline``: None in a config means "SRPipeline fills it
    in from its components", so a file never holds None."""
    meta = {"spec": spec, "doc": doc, "in_every_file": in_every_file, "parse": parse, "to_json": to_json,
            "filled_by_pipeline": filled_by_pipeline}
    return field(default=default, default_factory=default_factory, metadata=meta)


@dataclass(frozen=True, eq=False)
class PipelineConfig:
    """The options of an SR pipeline: everything but its components, device and backend.

    Checked on creation: a wrong value raises :class:`PipelineConfigError` naming the option
    (:class:`CompatibilityError` for options that exclude each other). Change options with
    :meth:`replace`. Two configs are equal when their :meth:`to_dict` views are.
    """

    steps: int | None = _option(
        Int(1, null=True, limit=MAX_STEPS), default=None, in_every_file=True,
        doc="sampler steps of a call without steps= (None: the sampler's default_steps)")
    scale: int = _option(Int(1, limit=MAX_SCALE), default=4, in_every_file=True, doc="LR -> HR upscaling factor")
    conditioning: str = _option(
        Str(CONDITIONINGS), default="lr-latent", in_every_file=True,
        doc="lr-latent: encode the LR, upsample the latent; bicubic-latent: encode the bicubic-upsampled LR")
    residual: bool = _option(
        Bool(), default=False, in_every_file=True,
        doc="the denoiser predicts the residual over the conditioning latent")
    schedule: NoiseSchedule = _option(
        Obj({"name": Str(("cosine", "linear"))},
            {"num_timesteps": Int(1, limit=MAX_TIMESTEPS), "s": Number(min=0, limit=1),
             "beta_start": Number(positive=True, limit=1), "beta_end": Number(positive=True, limit=1)}),
        default_factory=make_schedule, in_every_file=True, parse=make_schedule, to_json=lambda s: dict(s.config),
        doc="noise schedule: a NoiseSchedule, its name ('cosine', 'linear') or its config dict")
    latent_stats: LatentStats | None = _option(
        Obj({"mean": ListOf(Number(), 1), "std": ListOf(Number(positive=True), 1)}), default=None,
        in_every_file=True, parse=_latent_stats, to_json=lambda s: s.to_dict(), filled_by_pipeline=True,
        doc="per-channel latent normalization (None: identity for the autoencoder's channels)")
    pixel_skip: bool = _option(
        Bool(), default=False,
        doc="bicubic-latent only: SR = bicubic + decode(SR latent) - decode(conditioning latent)")
    data_consistency: int = _option(
        Int(0, limit=MAX_DATA_CONSISTENCY), default=0,
        doc="back-projection steps that make the SR image agree with its LR (zoo.ops.consistency)")
    self_ensemble: int = _option(
        Int(1, limit=8), default=1, parse=check_count,
        doc="flips/rotations of the LR whose SRs are combined where they agree, else bicubic (1, 2, 4 or 8; "
            "zoo.ops.ensemble): each one more SR run")
    uncertainty_weights: dict[str, float] | None = _option(
        Obj(optional={name: Number(min=0) for name in FEATURES}, null=True), default=None, parse=check_weights,
        doc="calibration of the uncertainty map: a nonnegative weight per feature (spread, gate, departure, "
            "gradient; zoo.ops.uncertainty), fitted by scripts/fit_uncertainty.py (None: uncalibrated defaults)")
    dtype: torch.dtype = _option(
        Str(DTYPES, null=True), default=torch.float32, parse=parse_dtype,
        to_json=lambda d: str(d).removeprefix("torch."),
        doc="dtype of the autoencoder's and denoiser's weights (a torch dtype or its name)")

    def __post_init__(self) -> None:
        for f in fields(self):
            value, parse = _plain(getattr(self, f.name), f.metadata["spec"]), f.metadata["parse"]
            if parse is not None:
                try:
                    value = parse(value)
                except (TypeError, ValueError, KeyError) as err:
                    raise PipelineConfigError(f"{WHERE}: {f.name}: {err}") from err
            object.__setattr__(self, f.name, value)
        if self.conditioning not in CONDITIONINGS:
            raise CompatibilityError(f"conditioning must be one of {CONDITIONINGS}, got {self.conditioning!r}")
        if self.pixel_skip is True and self.conditioning != "bicubic-latent":
            raise CompatibilityError("pixel_skip needs conditioning='bicubic-latent' (it adds back the bicubic image)")
        unset = {f.name for f in fields(self) if f.metadata["filled_by_pipeline"] and getattr(self, f.name) is None}
        try:
            validate({k: v for k, v in self.to_dict().items() if k not in unset}, _SCHEMA, WHERE)
        except FolderSchemaError as err:
            raise PipelineConfigError(str(err)) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON view: what ``zoo_pipeline.json`` stores besides the components."""
        out = {}
        for f in fields(self):
            value, to_json = getattr(self, f.name), f.metadata["to_json"]
            out[f.name] = to_json(value) if to_json is not None and value is not None else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        """The options in ``data`` (e.g. a pipeline file's content: other keys are ignored, missing options
        take their defaults)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def replace(self, **changes: Any) -> PipelineConfig:
        """A copy with ``changes`` (checked like a new config)."""
        return dataclasses.replace(self, **changes)

    def steps_for(self, sampler: Any, steps: int | None = None) -> int:
        """Sampler steps of one call: ``steps`` if given, else :attr:`steps`, else ``sampler.default_steps``."""
        return int(steps or self.steps or sampler.default_steps)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PipelineConfig) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # it holds tensors (schedule, latent stats)


def _plain(value: Any, spec: Spec) -> Any:
    """numpy scalars as Python values, and 0/1 as booleans for a boolean option (as ``bool(x)`` took them)."""
    if not isinstance(value, torch.Tensor) and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(spec, Bool) and type(value) is int and value in (0, 1):
        value = bool(value)
    return value


def option_schemas() -> tuple[dict[str, Spec], dict[str, Spec]]:
    """The JSON schema of each option: (options every pipeline file holds, options older files may lack)."""
    every = {f.name: f.metadata["spec"] for f in fields(PipelineConfig) if f.metadata["in_every_file"]}
    newer = {f.name: f.metadata["spec"] for f in fields(PipelineConfig) if not f.metadata["in_every_file"]}
    return every, newer


_SCHEMA = Obj(optional={f.name: f.metadata["spec"] for f in fields(PipelineConfig)})
