"""``SRPipeline``: LR image -> encode -> sample -> decode -> SR image (built by :mod:`zoo.pipeline.build`).

Data flow of one SR call, one function per arrow::

    image (any dtype/range) -> [0,1] (sr_images) -> channel adapt, [-1,1] (to_model_input)
    -> encode (runtime) -> normalize (latent_stats) -> conditioning latent at the HR latent size
    -> sampler(predict_x0(x_t, t, cond)) -> denormalize -> decode (runtime)
    -> [0,1], channel merge (from_model_output) -> original range/dtype (sr_images)

Conditioning (saved with the pipeline): ``lr-latent`` (the paper: encode the LR image at its native
size, upsample the latent bilinearly) or ``bicubic-latent`` (bicubic upsampling in pixel space,
then encode at the HR size). ``residual=True`` makes the denoiser predict the residual over the
conditioning latent: its output is read relative to the noisy residual ``x_t - sqrt(ᾱ_t)·cond``.

Every option lives in one :class:`~zoo.pipeline.config.PipelineConfig` (``pipe.options``); the
backend's runtime is built once (:meth:`SRPipeline.build_runtime`, or on first use) and again only
when the device or dtype changes. Saved folders are read and written by :mod:`zoo.pipeline.saved`;
:func:`load_pipeline` opens them, or an export folder through the backend that reads it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import torch

from zoo.autoencoders.preprocess import from_model_output, to_model_input
from zoo.ops.bands import Band, band_spans
from zoo.ops.consistency import BACK_PROJECTION_REACH
from zoo.ops.ensemble import EnsembleSpread, check_count
from zoo.ops.ensemble import self_ensemble as self_ensemble_sr
from zoo.ops.geometry import Geometry
from zoo.ops.intensity import (
    EdgeFormat,
    array_from_unit,
    array_to_unit,
    tensor_from_unit,
    tensor_to_unit,
    value_range_of,
)
from zoo.ops.latents import LatentStats, crop_to, measure_latent_stats, pad_to_multiple, upsample_latent
from zoo.ops.resample import bicubic_upsample, upsample_lr
from zoo.ops.tiling import (
    DEFAULT_TILE,
    MAX_AUTO_TILE,
    TilePlan,
    TilingError,
    bicubic_region,
    range_reference,
    run_tiled,
    tiled_denoise,
)
from zoo.ops.uncertainty import DEFAULT_WEIGHTS, UncertaintyParts, check_estimable, noise_level
from zoo.pipeline.band_noise import BandNoise
from zoo.pipeline.config import CONDITIONINGS, CompatibilityError, PipelineConfig
from zoo.samplers.noise import generators_for, randn, seed_list
from zoo.samplers.parameterization import output_to_x0, training_target

__all__ = ["CONDITIONINGS", "CompatibilityError", "PipelineConfig", "SRPipeline"]
_DEFAULTS = PipelineConfig()
SEED_STRIDE = 1000  # uncertainty sample k of image i runs with seed seed_i + 1000 k
BAND_PIXELS = 160 * 2048  # LR pixels a band of a large call keeps (zoo.ops.bands): its buffers stay this small


def _name(component: Any, kind: str) -> str:
    card = getattr(component, "card", None)
    return f"{kind} {card.name!r}" if card is not None else f"{kind} {type(component).__name__}"


def check_compatible(vae: Any, denoiser: Any, options: PipelineConfig) -> None:
    """Raise :class:`CompatibilityError` naming both parts if the combination cannot work."""
    for attr in ("latent_channels", "prediction_type", "size_multiple"):
        if not hasattr(denoiser, attr):
            raise CompatibilityError(
                f"{_name(denoiser, 'denoiser')} lacks '{attr}': a denoiser must be a zoo.denoisers.base.Denoiser "
                "(forward(x_t, t, cond), latent_channels, prediction_type, size_multiple)"
            )
    if denoiser.latent_channels != vae.latent_channels:
        raise CompatibilityError(
            f"{_name(denoiser, 'denoiser')} was built for {denoiser.latent_channels} latent channels but "
            f"{_name(vae, 'autoencoder')} has {vae.latent_channels}: build the denoiser with "
            f"latent_channels={vae.latent_channels} (build_pipeline does this when given the denoiser's name)"
        )
    schedule = options.schedule
    terminal = float(schedule.alphas_cumprod[-1])
    if denoiser.prediction_type == "eps" and terminal < 1e-10:
        raise CompatibilityError(
            f"{_name(denoiser, 'denoiser')} predicts eps but the {schedule.config.get('name')} schedule ends at "
            f"ᾱ={terminal:.2g} (zero SNR): x0 cannot be recovered from eps there; use prediction_type 'v' or "
            "'x0', or schedule='linear'"
        )
    stats = options.latent_stats
    if stats is not None and stats.channels != vae.latent_channels:
        raise CompatibilityError(
            f"latent stats have {stats.channels} channels, {_name(vae, 'autoencoder')} has {vae.latent_channels}"
        )


class _Option:
    """``pipe.<option>`` reads ``pipe.options.<option>``; assigning it replaces ``pipe.options`` (checked)."""

    def __init__(self, name: str, doc: str) -> None:
        self.name, self.__doc__ = name, doc

    def __get__(self, pipe: SRPipeline | None, owner: type | None = None) -> Any:
        return self if pipe is None else getattr(pipe.options, self.name)

    def __set__(self, pipe: SRPipeline, value: Any) -> None:
        pipe.options = pipe.options.replace(**{self.name: value})


class SRPipeline:
    """Latent-diffusion SR: an autoencoder, a denoiser, a sampler and a schedule, run through a backend runtime.

    Build it with :func:`build_pipeline` or :func:`load_pipeline`, or from its parts:
    ``SRPipeline(vae, denoiser, sampler, PipelineConfig(...), backend)``. ``pipe(lr, seed=0)`` runs SR;
    the other methods are the single steps (the training loop uses ``prepare_latents``,
    ``schedule.add_noise``, ``predict_x0`` and ``training_target``). Each option of ``pipe.options``
    also reads as ``pipe.<option>`` (``pipe.steps``, ``pipe.latent_stats``, ...); assigning one
    replaces ``pipe.options`` with a checked copy.
    """

    band_pixels: int = BAND_PIXELS  # LR pixels per band of a large tiled call (0: never banded); see _run_bands

    def __init__(
        self,
        vae: torch.nn.Module,
        denoiser: torch.nn.Module,
        sampler: Any,
        options: PipelineConfig | None = None,
        backend: Any = "torch",
        device: torch.device | str = "cpu",
    ) -> None:
        from zoo.factory import build_backend

        self.vae, self.denoiser, self.sampler = vae, denoiser, sampler
        self.options = options if options is not None else _DEFAULTS
        self.backend = build_backend(backend)
        self.device = torch.device(device)
        self._runtime: Any = None
        self._runtime_for: tuple[torch.device, torch.dtype] | None = None
        self.to()

    @property
    def options(self) -> PipelineConfig:
        """The pipeline's options; assigning checks them against the components (latent stats default to
        the identity for the autoencoder's channels)."""
        return self._options

    @options.setter
    def options(self, options: PipelineConfig) -> None:
        if options.latent_stats is None:
            options = options.replace(latent_stats=LatentStats.identity(self.vae.latent_channels))
        check_compatible(self.vae, self.denoiser, options)
        self._options = options

    @property
    def runtime(self) -> Any:
        """The backend's runtime (:class:`zoo.backends.base.Runtime`) for the modules on the current device
        and dtype: built on first use (or by :meth:`build_runtime`), rebuilt only after the device or dtype
        changed. Assigning one (e.g. a wrapper that counts calls) replaces it."""
        if self._runtime is None or self._runtime_for != (self.device, self.dtype):
            self.build_runtime()
        return self._runtime

    @runtime.setter
    def runtime(self, runtime: Any) -> None:
        self._runtime, self._runtime_for = runtime, (self.device, self.dtype)

    def build_runtime(self) -> Any:
        """Build the backend's runtime now and keep it: an export backend exports (or opens its cache) here.

        :func:`build_pipeline` and :func:`load_pipeline` call it once, so a backend that cannot run
        fails there; call it again after changing the modules' weights in place for a backend that
        copies them (``torch-compile``, the export backends)."""
        self.runtime = self.backend.runtime(self)
        return self._runtime

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | str | None = None) -> SRPipeline:
        """Move the modules (the runtime is rebuilt on next use if the device or dtype changed); returns ``self``."""
        self.device = torch.device(device) if device is not None else self.device
        if dtype is not None:
            self.options = self.options.replace(dtype=dtype)
        self.vae.to(device=self.device, dtype=self.dtype)
        self.denoiser.to(device=self.device, dtype=self.dtype)
        return self

    def __repr__(self) -> str:
        return (
            f"SRPipeline(vae={_name(self.vae, '')[1:]}, denoiser={_name(self.denoiser, '')[1:]}, "
            f"sampler={self.sampler.name!r}, steps={self.num_steps}, scale={self.scale}, "
            f"conditioning={self.conditioning!r}, residual={self.residual}, device={self.device}, dtype={self.dtype})"
        )

    @property
    def num_steps(self) -> int:
        """Sampler steps of a call without ``steps=``."""
        return self.options.steps_for(self.sampler)

    @property
    def factor(self) -> int:
        return int(self.vae.downsample_factor)

    # latent space -----------------------------------------------------------------------------
    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        return self.latent_stats.normalize(z)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return self.latent_stats.denormalize(z)

    def model_input(self, x01: torch.Tensor, range_from: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] -> the autoencoder's input in [-1, 1]; a ``minmax`` card scales each image by the
        per-image range of ``range_from`` (default: the image itself)."""
        like = None if range_from is None else range_from.to(self.device, torch.float32)
        return to_model_input(x01.to(self.device, torch.float32), self.vae, range_from=like)

    def encode(self, x01: torch.Tensor, range_from: torch.Tensor | None = None) -> torch.Tensor:
        """Raw posterior-mode latent of images in [0, 1] (any channel count the autoencoder accepts)."""
        return self.runtime.encode(self.model_input(x01, range_from)).float()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Image in [-1, 1] (not clamped) of a *normalized* latent."""
        return self.runtime.decode(self.denormalize(z)).float()

    def hr_size(self, lr_size: Sequence[int]) -> tuple[int, int]:
        """HR size for an LR size, checked against the autoencoder's factor."""
        h, w = (int(s) * self.scale for s in lr_size)
        if h % self.factor or w % self.factor:
            step = self.factor // math.gcd(self.factor, self.scale)
            raise ValueError(
                f"LR {lr_size[0]}x{lr_size[1]} x{self.scale} gives HR {h}x{w}, not a multiple of the "
                f"{_name(self.vae, 'autoencoder')} factor {self.factor}: use LR sizes that are multiples of {step}"
            )
        return h, w

    def geometry(self, hr_size: int) -> Geometry:
        """The tensor shapes of an SR call at HR side ``hr_size`` (LR, encoder input and latent sides)."""
        vae = self.vae
        return Geometry(int(vae.in_channels), int(vae.latent_channels), self.factor, int(hr_size), self.scale,
                        self.conditioning)

    def target_latent(self, hr01: torch.Tensor, lr01: torch.Tensor | None = None) -> torch.Tensor:
        """Normalized latent of HR images in [0, 1] (the training target).

        With a ``minmax`` autoencoder, pass the paired LR: the HR is then scaled by the LR's range, the
        only range known at inference, so the target and the SR output share one intensity scale.
        """
        return self.normalize(self.encode(hr01, range_from=lr01))

    def conditioning_latent(self, lr01: torch.Tensor) -> torch.Tensor:
        """Normalized conditioning latent at the HR latent size for LR images in [0, 1]."""
        hr = self.hr_size(lr01.shape[-2:])
        size = (hr[0] // self.factor, hr[1] // self.factor)
        if self.conditioning == "bicubic-latent":
            return self.normalize(self.encode(upsample_lr(lr01.to(self.device, torch.float32), hr), range_from=lr01))
        # lr-latent: an LR size that is not a multiple of f is padded (bottom/right), the padding cropped after
        z = self.normalize(self.encode(pad_to_multiple(lr01, self.factor)))
        up = upsample_latent(z, (z.shape[-2] * self.scale, z.shape[-1] * self.scale))
        return crop_to(up, size)

    @torch.inference_mode()
    def measure_latent_stats(self, hr_batches: Iterable[torch.Tensor]) -> LatentStats:
        """Per-channel stats of the raw latents of HR image batches in [0, 1] (assign to ``latent_stats``)."""
        return measure_latent_stats(self.encode(hr) for hr in hr_batches)

    def prepare_latents(self, hr01: torch.Tensor, lr01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(target, conditioning) normalized latents for paired HR/LR images in [0, 1]."""
        if tuple(hr01.shape[-2:]) != self.hr_size(lr01.shape[-2:]):
            raise ValueError(
                f"HR {tuple(hr01.shape[-2:])} is not LR {tuple(lr01.shape[-2:])} x{self.scale} (the pipeline's scale)"
            )
        return self.target_latent(hr01, lr01), self.conditioning_latent(lr01)

    # denoising --------------------------------------------------------------------------------
    def denoise(
        self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, tile: TilePlan | None = None,
    ) -> torch.Tensor:
        """Raw denoiser output (float32); latents are padded to the denoiser's size multiple and cropped back.
        With a :class:`~zoo.ops.tiling.TilePlan` the denoiser runs on overlapping latent tiles, blended."""
        if tile is not None:
            return tiled_denoise(self._denoise_whole, x_t, t, cond, tile)
        return self._denoise_whole(x_t, t, cond)

    def _denoise_whole(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        m = int(self.denoiser.size_multiple)
        size = tuple(x_t.shape[-2:])
        out = self.runtime.denoise(pad_to_multiple(x_t, m), t, pad_to_multiple(cond, m))
        return crop_to(out, size).float()

    def predict_x0(
        self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, tile: TilePlan | None = None,
    ) -> torch.Tensor:
        """x0 estimate (normalized latent) from the denoiser, whatever its prediction type (and residual)."""
        # untiled calls keep the 3-argument form (code that replaces ``denoise`` need not know tiles)
        raw = self.denoise(x_t, t, cond) if tile is None else self.denoise(x_t, t, cond, tile=tile)
        abar = self.schedule.alpha_bar(t, like=x_t)
        kind = self.denoiser.prediction_type
        if self.residual:  # an x0 output does not read x_t: skip the latent-sized x_t - sqrt(ᾱ) cond
            return cond + output_to_x0(raw, x_t if kind == "x0" else x_t - abar.sqrt() * cond, abar, kind)
        return output_to_x0(raw, x_t, abar, kind)

    def training_target(
        self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """What the denoiser should output for ``x_t = schedule.add_noise(x0, noise, t)`` (inverse of predict_x0)."""
        abar = self.schedule.alpha_bar(t, like=x0)
        base = x0 - cond if self.residual else x0
        return training_target(base, noise, abar, self.denoiser.prediction_type)

    def sample(
        self, cond: torch.Tensor, seed: int | Sequence[int] = 0, steps: int | None = None,
        sampler: Any = None, progress: bool | None = None, tile: TilePlan | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Normalized SR latent for a conditioning latent; image ``i`` uses seed ``seed + i`` (or ``seed[i]``).

        The noise is drawn once for the whole latent; ``tile`` only splits the denoiser calls. ``noise``: the
        initial noise to use instead (its part of a whole image's noise, for a band of it)."""
        from zoo.factory import build_sampler

        run = build_sampler(sampler) if sampler is not None else self.sampler
        generators = generators_for(seed, cond.shape[0])
        if noise is not None and tuple(noise.shape) != tuple(cond.shape):
            raise ValueError(f"noise of shape {tuple(noise.shape)} for a latent of shape {tuple(cond.shape)}")
        x = randn(cond.shape, generators, self.device, torch.float32) if noise is None else noise.to(self.device)
        return run(
            lambda x_t, t: self.predict_x0(x_t, t, cond, tile=tile), x, self.options.steps_for(run, steps),
            schedule=self.schedule, generator=generators, disable=None if progress is None else not progress,
        )

    # tiling -----------------------------------------------------------------------------------
    @property
    def trained_size(self) -> int | None:
        """HR side the denoiser was built for (``sample_size`` x the autoencoder's factor), if it says."""
        size = (getattr(self.denoiser, "config", None) or {}).get("sample_size")
        return int(size) * self.factor if isinstance(size, int) and size > 0 else None

    def tile_radius(self) -> int | None:
        """The context margin (latent pixels) of exact tiles: the denoiser's ``receptive_radius`` plus the
        autoencoder's (0 if it declares none); None when the denoiser declares none (blended tiles)."""
        radius = getattr(self.denoiser, "receptive_radius", None)
        if radius is None:
            return None
        return int(radius) + int(getattr(self.vae, "receptive_radius", None) or 0)

    def tile_plan(self, hr_size: Sequence[int], tile: int | str | None = None) -> TilePlan | None:
        """The tiling of an SR call at ``hr_size`` (None: run whole).

        ``tile``: an HR tile side in pixels, ``"off"``/``0``/``False`` (never tile), or ``None``/``"auto"``:
        tile at the size the denoiser was trained on (:data:`zoo.ops.tiling.DEFAULT_TILE` if the denoiser does
        not say), kept within 128..:data:`zoo.ops.tiling.MAX_AUTO_TILE` (the memory budget of one call), when
        the HR image is larger than that; memory then stays bounded by the tile size whatever the image
        size. An image that fits in one tile is run whole.

        A denoiser that declares a ``receptive_radius`` (latent pixels an output pixel reads, e.g.
        ``resconv``) gets exact tiles (:meth:`zoo.ops.tiling.TilePlan.exact`): each inner tile edge has as much
        context as the denoiser's radius plus the autoencoder's (``receptive_radius`` of a local autoencoder;
        0 if it declares none), so the denoiser's tiles reproduce the whole-image result, and the encoder's
        and decoder's too when the autoencoder declares its radius; ``auto`` then uses the largest tile,
        :data:`zoo.ops.tiling.MAX_AUTO_TILE`. An explicit tile must be a multiple of the autoencoder's factor.
        """
        if tile is False or tile == 0 or (isinstance(tile, str) and tile.lower() == "off"):
            return None
        radius = self.tile_radius()
        if tile is None or (isinstance(tile, str) and tile.lower() == "auto"):
            trained = MAX_AUTO_TILE if radius is not None else self.trained_size or DEFAULT_TILE
            side = min(max(trained, 128), MAX_AUTO_TILE)
        elif isinstance(tile, str) and tile.isdigit():
            side = int(tile)
        elif isinstance(tile, (int, np.integer)) and not isinstance(tile, bool):
            side = int(tile)
        else:
            raise TilingError(f"tile must be an HR tile side in pixels, 'auto' (None) or 'off', got {tile!r}")
        if side % self.factor:
            lower, upper = side - side % self.factor, side - side % self.factor + self.factor
            raise TilingError(f"tile {side} is not a multiple of the autoencoder's downsample factor {self.factor} "
                              f"(tiles are cut on the latent grid); use {lower or upper} or {upper}")
        plan = TilePlan.from_hr(side, self.factor) if radius is None else TilePlan.exact(side, self.factor, int(radius))
        if max(int(s) for s in hr_size) <= plan.tile * self.factor:
            return None
        return plan

    def _super_resolve_tiled(
        self, lr01: torch.Tensor, plan: TilePlan, ref: torch.Tensor | None = None, **kwargs: Any,
    ) -> torch.Tensor:
        """:meth:`super_resolve` on overlapping tiles: encode, denoise and decode each run tile by tile; ``ref``:
        the per-image intensity range (:func:`~zoo.ops.tiling.range_reference`; default: ``lr01``'s own)."""
        lr01 = lr01.to(self.device, torch.float32)
        b, c = lr01.shape[:2]
        f, s, ch = self.factor, self.scale, self.vae.latent_channels
        hr = self.hr_size(lr01.shape[-2:])
        lat = (hr[0] // f, hr[1] // f)
        ref = range_reference(lr01) if ref is None else ref  # a tile's mapping (minmax cards): the whole image's range

        def zeros(*shape: int) -> torch.Tensor:
            return torch.zeros(*shape, dtype=torch.float32, device=self.device)

        if self.conditioning == "bicubic-latent":
            def encode_tile(r: tuple[int, int, int, int]) -> torch.Tensor:
                return self.encode(bicubic_region(lr01, s, tuple(v * f for v in r)), range_from=ref)

            cond = self.normalize(run_tiled(encode_tile, lat, plan, zeros(b, ch, *lat)))
        else:  # lr-latent: encode the (padded) LR in tiles, upsample the latent, crop the padding
            padded = pad_to_multiple(lr01, f)
            one_channel = c > 1 and getattr(getattr(self.vae, "card", None), "in_channels", c) == 1
            lr_ref = range_reference(padded.mean(1, keepdim=True) if one_channel else padded)
            lr_lat = (padded.shape[-2] // f, padded.shape[-1] // f)

            def encode_tile(r: tuple[int, int, int, int]) -> torch.Tensor:
                y0, y1, x0, x1 = (v * f for v in r)
                return self.encode(padded[..., y0:y1, x0:x1], range_from=lr_ref)

            z = self.normalize(run_tiled(encode_tile, lr_lat, plan, zeros(b, ch, *lr_lat)))
            cond = crop_to(upsample_latent(z, (z.shape[-2] * s, z.shape[-1] * s)), lat)
            del z
        latent = self.sample(cond, tile=plan, **kwargs)

        def decode_tile(r: tuple[int, int, int, int]) -> torch.Tensor:
            y0, y1, x0, x1 = r
            x = self.decode(latent[..., y0:y1, x0:x1])
            if self.pixel_skip:
                bicubic = bicubic_region(lr01, s, (y0 * f, y1 * f, x0 * f, x1 * f))
                x = x + self.model_input(bicubic, range_from=ref) - self.decode(cond[..., y0:y1, x0:x1])
            return from_model_output(x, channels=c)

        return run_tiled(decode_tile, lat, plan, zeros(b, c, *hr), scale=f)

    # SR call ----------------------------------------------------------------------------------
    def super_resolve(
        self, lr01: torch.Tensor, tile: int | str | TilePlan | None = None, self_ensemble: int | None = None,
        uncertainty: bool = False, uncertainty_samples: int = 1, **kwargs: Any,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """SR of a B x C x h x w batch in [0, 1] -> B x C x H x W in [0, 1] (C channels as the input).

        ``tile``: see :meth:`tile_plan` (``None``: automatic), or a :class:`~zoo.ops.tiling.TilePlan`.
        ``self_ensemble``: this call's count of flips/rotations (``None``: ``options.self_ensemble``).
        ``uncertainty``: return ``(sr, map)``, the map of expected absolute error (:mod:`zoo.ops.uncertainty`),
        same shape and [0, 1] units, weighted by ``options.uncertainty_weights``; see
        :meth:`uncertainty_parts` for ``uncertainty_samples``.

        The numbered steps are those of docs/architecture.md's "One SR call" (steps 1 and 8, into [0, 1] and back, are
        :meth:`__call__`'s; steps 4-6 are :meth:`_super_resolve_once`'s)."""
        result: dict[str, torch.Tensor | None] = {}
        hr = self.hr_size(lr01.shape[-2:])

        def write(y0: int, sr: torch.Tensor, error: torch.Tensor | None) -> None:
            if sr.shape[-2] == hr[0]:  # the whole image at once: no copy
                result["sr"], result["map"] = sr, error
                return
            if not result:
                result["sr"] = sr.new_empty((*sr.shape[:2], *hr))
                result["map"] = None if error is None else error.new_empty((*error.shape[:2], *hr))
            result["sr"][..., y0 : y0 + sr.shape[-2], :] = sr
            if error is not None:
                result["map"][..., y0 : y0 + error.shape[-2], :] = error

        self._run_bands(lr01, write, tile, self_ensemble, uncertainty, uncertainty_samples, **kwargs)
        return (result["sr"], result["map"]) if uncertainty else result["sr"]

    def _run_bands(
        self, lr01: torch.Tensor, write: Callable[[int, torch.Tensor, torch.Tensor | None], None],
        tile: int | str | TilePlan | None, self_ensemble: int | None,
        uncertainty: bool, samples: int, **kwargs: Any,
    ) -> None:
        """Steps 2-7 of :meth:`super_resolve`, band by band (:mod:`zoo.ops.bands`) when the image is tiled with
        exact tiles and the sampler draws no noise after the first: ``write(y0, sr, map)`` receives each band's
        HR rows from ``y0`` (``map`` None without ``uncertainty``); one call with the whole image otherwise."""
        plan = tile if isinstance(tile, TilePlan) else self.tile_plan(self.hr_size(lr01.shape[-2:]), tile)
        # 2. self-ensemble: steps 3-6 on each flip/rotation, combined where they agree
        count = self.options.self_ensemble if self_ensemble is None else check_count(self_ensemble)
        weights = (self.options.uncertainty_weights or DEFAULT_WEIGHTS) if uncertainty else None
        if uncertainty:
            check_estimable(count, samples)
        seeds = seed_list(kwargs.pop("seed", 0), lr01.shape[0])
        bands = self._bands(lr01, plan, kwargs.get("sampler"), kwargs.get("steps"))
        s, f = self.scale, self.factor
        noise = BandNoise(self.vae.latent_channels, (lr01.shape[-2] * s // f, lr01.shape[-1] * s // f), self.device)
        ref = range_reference(lr01.to(self.device, torch.float32))
        level = noise_level(lr01.to(self.device), self.scale) if weights and weights.get("noise") else None
        for lo, top, bottom, hi in bands:
            part = lr01[..., lo:hi, :]
            extra = {} if len(bands) == 1 else {"noise": noise.at((lo * s // f, hi * s // f)), "ref": ref}
            if weights is None:  # 7. data consistency
                sr, error = self._consistent(self._super_resolve_ensemble(part, plan, count, seeds, **extra,
                                                                          **kwargs), part), None
            else:  # lean: no image-size bicubic buffer, the gate only where the weights use it
                parts = self._parts(part, plan, count, seeds, samples, False, weights["gate"] > 0, **extra, **kwargs)
                sr, error = parts.sr, parts.map(weights, noise=level)
                del parts
            keep = slice((top - lo) * s, (bottom - lo) * s)
            write(top * s, sr[..., keep, :], None if error is None else error[..., keep, :])
            del sr, error

    def _bands(self, lr01: torch.Tensor, plan: TilePlan | None, sampler: Any, steps: int | None) -> list[Band]:
        """The bands of LR rows of one call (:func:`zoo.ops.bands.band_spans`); one, the whole image, unless it
        is tiled with exact tiles and the sampler is deterministic after its initial noise (DDIM, ``eta=0``)."""
        h = lr01.shape[-2]
        radius = self.tile_radius()
        if plan is None or radius is None or self.band_pixels <= 0:
            return [(0, 0, h, h)]
        from zoo.factory import build_sampler

        run = build_sampler(sampler) if sampler is not None else self.sampler
        if run.name != "ddim" or float(run.config.get("eta", 0.0)) != 0.0:
            return [(0, 0, h, h)]
        f, s = self.factor, self.scale
        latent = self.options.steps_for(run, steps) * radius + 2  # each step reads the radius again; +2: bilinear
        reach = math.ceil(latent * f / s) + (int(getattr(self.vae, "receptive_radius", 0) or 0) + 1) * f + 3
        halo = reach + 1 + self.options.data_consistency * BACK_PROJECTION_REACH + 1  # + gate, steps, map windows
        step = f // math.gcd(f, s)
        halo = -(-halo // step) * step
        rows = _tile_aligned_rows(max(1, self.band_pixels // lr01.shape[-1]), halo, plan, f / s)
        return band_spans(h, rows, halo, step)

    def uncertainty_parts(
        self, lr01: torch.Tensor, tile: int | str | TilePlan | None = None, self_ensemble: int | None = None,
        uncertainty_samples: int = 1, bicubic: bool = True, gate: bool = True, **kwargs: Any,
    ) -> UncertaintyParts:
        """The SR (as :meth:`super_resolve`) and what its uncertainty map is made of (:mod:`zoo.ops.uncertainty`).

        ``uncertainty_samples`` seeds (``seed``, ``seed + 1000``, ...) add their spread to the orientations';
        the SR stays that of ``seed``. ``bicubic`` / ``gate``: keep the whole bicubic image / measure the gate
        (each one buffer of the SR's size). Raises :class:`~zoo.ops.uncertainty.UncertaintyError` (naming the
        option) when there is neither more than one orientation nor more than one sample. Whole image (not
        banded): :meth:`super_resolve` with ``uncertainty=True`` runs large images in bands."""
        plan = tile if isinstance(tile, TilePlan) else self.tile_plan(self.hr_size(lr01.shape[-2:]), tile)
        count = self.options.self_ensemble if self_ensemble is None else check_count(self_ensemble)
        check_estimable(count, uncertainty_samples)
        seeds = seed_list(kwargs.pop("seed", 0), lr01.shape[0])
        return self._parts(lr01, plan, count, seeds, uncertainty_samples, bicubic, gate, **kwargs)

    def _parts(
        self, lr01: torch.Tensor, plan: TilePlan | None, count: int, seeds: list[int], samples: int, bicubic: bool,
        gate: bool, **kwargs: Any,
    ) -> UncertaintyParts:
        """:meth:`uncertainty_parts` with the plan, count and seeds resolved (of an image or a band)."""
        spread = EnsembleSpread(want_gate=gate)
        sr = self._super_resolve_ensemble(lr01, plan, count, seeds, spread, **kwargs)
        if samples > 1:
            spread.std = self._seed_spread(lr01, plan, count, seeds, sr, spread, samples, **kwargs)
        sr = self._consistent(sr, lr01)
        lr = lr01.to(sr.device, torch.float32)
        whole = bicubic_upsample(lr, self.scale).clamp_(0, 1) if bicubic else None
        return UncertaintyParts(sr, lr, spread.std, spread.gate, whole)

    def _consistent(self, sr: torch.Tensor, lr01: torch.Tensor) -> torch.Tensor:
        """``sr`` after the ``data_consistency`` back-projection steps (tiled or not: on the whole image)."""
        if not self.options.data_consistency:
            return sr
        from zoo.ops.consistency import project_to_lr

        return project_to_lr(sr, lr01.to(sr.device), self.options.data_consistency)

    def _super_resolve_ensemble(
        self, lr01: torch.Tensor, plan: TilePlan | None, count: int, seeds: list[int],
        spread: EnsembleSpread | None = None, **kwargs: Any,
    ) -> torch.Tensor:
        """The self-ensemble of ``count`` transforms (or one SR), image ``i`` with seed ``seeds[i]``, before
        data consistency; ``spread`` is filled as :func:`zoo.ops.ensemble.self_ensemble` does."""
        noise: BandNoise | None = kwargs.pop("noise", None)
        ref: torch.Tensor | None = kwargs.pop("ref", None)

        def run(x: torch.Tensor, ks: list[int]) -> torch.Tensor:  # each transform of image i keeps image i's seed
            if noise is not None:  # a band: its part of each transform's whole-image noise, the whole image's range
                kwargs.update(noise=noise.batch(seeds, ks), ref=ref.repeat(len(ks), 1, 1, 1))
            return self._super_resolve_once(x, plan, seed=seeds * len(ks), **kwargs)

        if count == 1:
            return run(lr01, [0])
        return self_ensemble_sr(run, lr01.to(self.device, torch.float32), count, spread=spread, transforms=True)

    def _seed_spread(
        self, lr01: torch.Tensor, plan: TilePlan | None, count: int, seeds: list[int], first: torch.Tensor,
        spread: EnsembleSpread, samples: int, **kwargs: Any,
    ) -> torch.Tensor:
        """sqrt(orientation variance + variance over ``samples`` seeds) per pixel; ``first`` is seed ``seeds``'s SR."""
        total, squares = first.float().clone(), first.float().square()
        for k in range(1, samples):
            other = self._super_resolve_ensemble(lr01, plan, count, [s + SEED_STRIDE * k for s in seeds], **kwargs)
            total.add_(other.float())
            squares.addcmul_(other.float(), other.float())
            del other
        mean = total.div_(samples)
        variance = squares.div_(samples).addcmul_(mean, mean, value=-1.0).clamp_(min=0.0)
        if spread.std is not None:
            variance.addcmul_(spread.std, spread.std)
        return variance.sqrt_()

    def _super_resolve_once(self, lr01: torch.Tensor, plan: TilePlan | None, **kwargs: Any) -> torch.Tensor:
        """One SR of ``lr01``, tiled by ``plan`` or whole, before data consistency."""
        if plan is not None:  # 3. tiles: steps 4-6 tile by tile, blended
            return self._super_resolve_tiled(lr01, plan, **kwargs)
        kwargs.pop("ref", None)  # a band's range: bands are tiled
        # 4. conditioning latent
        cond = self.conditioning_latent(lr01)
        # 5. sampling, 6. decode
        x = self.decode(self.sample(cond, **kwargs))
        # 6. pixel skip: bicubic + what the denoiser added to the bicubic latent, in pixel space
        if self.pixel_skip:
            bicubic = upsample_lr(lr01.to(self.device, torch.float32), self.hr_size(lr01.shape[-2:]))
            x = x + self.model_input(bicubic, range_from=lr01) - self.decode(cond)
        return from_model_output(x, channels=lr01.shape[1])

    @torch.inference_mode()
    def __call__(
        self, lr: torch.Tensor | Sequence[np.ndarray], seed: int | Sequence[int] = 0, steps: int | None = None,
        sampler: Any = None, progress: bool | None = None, tile: int | str | None = None,
        value_range: tuple[float, float] | None = None, self_ensemble: int | None = None,
        uncertainty: bool = False, uncertainty_samples: int = 1,
    ) -> Any:
        """Super-resolve ``lr``: a float tensor B x C x h x w in [0, 1] (returns the same dtype), or a list of
        numpy arrays H x W / H x W x C of any dtype and range (returns a list, each in its input's range/dtype).

        Image ``i`` uses seed ``seed + i`` (or ``seed[i]``), so its result does not depend on the rest of
        the batch. ``progress`` shows a bar over sampler steps (``None``: only on a terminal).
        ``tile``: HR tile side in pixels, ``"off"``, or ``None`` (automatic: tile images larger than the
        pipeline was trained on; see :meth:`tile_plan` and :mod:`zoo.ops.tiling`). ``value_range`` (arrays
        only): one intensity mapping for every array of the call, e.g. a volume's ``(min, max)`` from
        :meth:`volume_range`, instead of one per array. ``self_ensemble``: flips/rotations combined for this
        call (1, 2, 4 or 8; ``None``: the pipeline's ``self_ensemble`` option; see :mod:`zoo.ops.ensemble`).
        ``uncertainty``: return ``(sr, map)``, the map of each pixel's expected absolute error in the
        output's units (a tensor like the SR; for arrays a list of float32 arrays in the input's units);
        ``uncertainty_samples``: seeds whose spread it adds (see :mod:`zoo.ops.uncertainty`).
        """
        intensity = getattr(getattr(self.vae, "card", None), "intensity", "minmax")
        opts = {"steps": steps, "sampler": sampler, "progress": progress, "tile": tile, "self_ensemble": self_ensemble,
                "uncertainty": uncertainty, "uncertainty_samples": uncertainty_samples}
        if isinstance(lr, torch.Tensor):
            unit, formats = tensor_to_unit(lr, intensity)
            seeds = seed_list(seed, unit.shape[0])
            result = self.super_resolve(unit, seed=seeds, **opts)
            sr, error = result if uncertainty else (result, None)
            del unit, result
            out = tensor_from_unit(sr.cpu(), formats).to(lr.device)  # in bands: no float64 copy of the image
            del sr
            if not uncertainty:
                return out
            spans = [EdgeFormat(0.0, f.hi - f.lo, f.dtype, f.layout) for f in formats]  # the map: error x span
            return out, tensor_from_unit(error.cpu(), spans).to(lr.device)
        if not isinstance(lr, (list, tuple)) or not lr:
            raise TypeError("lr must be a float tensor B x C x h x w in [0, 1] or a non-empty list of numpy arrays")
        converted = [array_to_unit(a, value_range) for a in lr]
        seeds = seed_list(seed, len(converted))
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (unit, _) in enumerate(converted):
            groups.setdefault(tuple(unit.shape), []).append(i)
        out: list[np.ndarray | None] = [None] * len(converted)
        maps: list[np.ndarray | None] = [None] * len(converted)
        for idx in groups.values():  # each band straight into the output arrays: no image-size float buffer
            batch = torch.cat([converted[i][0] for i in idx])
            height = self.hr_size(batch.shape[-2:])[0]

            def write(y0: int, sr: torch.Tensor, error: torch.Tensor | None, idx: list[int] = idx,
                      height: int = height) -> None:
                sr, error = sr.cpu(), None if error is None else error.cpu()
                for j, i in enumerate(idx):
                    fmt = converted[i][1]
                    out[i] = _put_rows(out[i], y0, height, _array_from_unit_banded(sr[j : j + 1], fmt))
                    if error is not None:
                        maps[i] = _put_rows(maps[i], y0, height, _error_array(error[j], fmt))

            self._run_bands(batch, write, tile, self_ensemble, uncertainty, uncertainty_samples,
                            seed=[seeds[i] for i in idx], steps=steps, sampler=sampler, progress=progress)
            del batch
        return (out, maps) if uncertainty else out

    def volume_range(self, volume: np.ndarray) -> tuple[float, float]:
        """The one intensity range of a whole volume (all slices and frames) for ``value_range=``: what
        this pipeline's per-image mapping would take if the volume were one image."""
        return value_range_of(volume)

    # persistence ------------------------------------------------------------------------------
    def save_pretrained(self, path: str | os.PathLike, *, metrics: Any = None, training_data: str | None = None,
                        license: str | None = None) -> None:  # noqa: A002
        """Write the pipeline folder (``zoo_pipeline.json``, ``denoiser.safetensors``, ``vae/``, ``README.md``)
        atomically; ``metrics``, ``training_data`` and ``license`` go into the model card
        (:mod:`zoo.pipeline.model_card`)."""
        from zoo.pipeline.saved import save_pipeline

        save_pipeline(self, path, metrics=metrics, training_data=training_data, license=license)

    def config(self) -> dict[str, Any]:
        """The pipeline's options as JSON (``pipe.options.to_dict()``: what ``zoo_pipeline.json`` stores
        besides the components)."""
        return self.options.to_dict()


for _field in fields(PipelineConfig):
    setattr(SRPipeline, _field.name, _Option(_field.name, _field.metadata["doc"]))


def _array_from_unit_banded(y: torch.Tensor, fmt: EdgeFormat, rows: int = 512) -> np.ndarray:
    """:func:`~zoo.ops.intensity.array_from_unit` in bands of rows: the mapping is pointwise, and converting a
    large image at once holds several float64 copies of it."""
    if y.shape[-2] <= rows:
        return array_from_unit(y, fmt)
    first = array_from_unit(y[..., :rows, :], fmt)
    out = np.empty((y.shape[-2], *first.shape[1:]), dtype=first.dtype)
    out[:rows] = first
    for start in range(rows, y.shape[-2], rows):
        out[start : start + rows] = array_from_unit(y[..., start : start + rows, :], fmt)
    return out


def _tile_aligned_rows(budget: int, halo: int, plan: TilePlan, lr_per_latent: float) -> int:
    """The most kept LR rows, at most ``budget``, whose band with its context fills whole tile rows (``n`` tiles
    of ``plan`` overlapping down the band: no tile row mostly repeats its neighbour); ``budget`` if none fits."""
    best, n = 0, 1
    while (kept := int((n * plan.tile - (n - 1) * plan.overlap) * lr_per_latent) - 2 * halo) <= budget:
        best, n = max(best, kept), n + 1
    return best or budget


def _put_rows(array: np.ndarray | None, y0: int, height: int, rows: np.ndarray) -> np.ndarray:
    """``rows`` written into ``array`` (made on the first band, of ``height`` rows) from row ``y0``; a band
    of the whole height is the array itself."""
    if array is None and rows.shape[0] == height:
        return rows
    if array is None:
        array = np.empty((height, *rows.shape[1:]), dtype=rows.dtype)
    array[y0 : y0 + rows.shape[0]] = rows
    return array


def _error_array(error: torch.Tensor, fmt: EdgeFormat) -> np.ndarray:
    """A C x H x W map in [0, 1] units -> float32 in ``fmt``'s units (its range's span) and layout; ``error``
    (a float32 map of this call, not used after) is scaled in place and shared."""
    out = error.float().mul_(float(fmt.hi - fmt.lo)).numpy()  # in place, float32: no copy of a large map
    return out[0] if fmt.layout == "HW" else np.moveaxis(out, 0, -1)
