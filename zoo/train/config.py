"""Training configs: one YAML or JSON file describes a whole run (task, data, model, optimisation).

A config has four sections besides ``task``/``seed``/``output``: ``data``, ``optim``, and the
task's own section (``pipeline`` for a denoiser run, ``autoencoder`` for an autoencoder run).
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

__all__ = [
    "AutoencoderSection",
    "ConfigError",
    "DataSection",
    "OptimSection",
    "PipelineSection",
    "TrainConfig",
    "load_config",
]

TASKS = ("denoiser", "autoencoder")


class ConfigError(ZooError, ValueError):
    """A training config is invalid; the message names the key."""


@dataclass
class DataSection:
    """Where the training images (or cached latents) come from and how they are cropped."""

    root: str | None = None  # prepared dataset folder (manifest.csv from `zoo prepare`)
    latents: str | None = None  # latent cache folder (denoiser runs; optional)
    train_split: str = "train"
    val_split: str = "val"
    val_ids: list[str] | None = None  # explicit held-out ids (override val_split)
    max_val: int = 16  # validation images used every val_every steps
    crop: int | None = None  # pixel crop (autoencoder) or HR pixel crop (denoiser); None = whole image
    flips: bool = True  # random horizontal/vertical flips
    repeat: int = 1  # an epoch visits every training item this many times (tiny data sets)


@dataclass
class OptimSection:
    """Optimiser, schedule and loop length (the paper: AdamW 1e-4, wd 0.01, batch 8, 100 epochs)."""

    epochs: int = 100
    max_steps: int | None = None  # optimizer steps; overrides epochs when set
    batch_size: int = 8  # per process
    grad_accum: int = 1
    lr: float = 1e-4
    min_lr: float = 1e-6
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "cosine"  # cosine (per step) | cosine-epoch (the paper's per-epoch cosine) | constant
    warmup_steps: int = 0
    grad_clip: float | None = 1.0
    ema: float | None = None  # EMA decay (e.g. 0.999); None = off
    mixed_precision: str = "no"  # no | fp16 | bf16 (GPU only; CPU runs in fp32)
    val_every: int = 500
    ckpt_every: int = 500
    log_every: int = 10


@dataclass
class PipelineSection:
    """The latent SR pipeline being trained (passed to ``zoo.build_pipeline``)."""

    vae: str = "medvae-4-3"
    vae_weights: str | None = None
    denoiser: str = "unet"
    denoiser_config: dict[str, Any] = field(default_factory=dict)
    sampler: str = "ddim"
    steps: int = 50
    scale: int = 4
    hr_size: int = 256  # nominal HR size: the denoiser's layout (where attention sits) follows hr_size / f
    conditioning: str = "lr-latent"  # lr-latent (the paper) | bicubic-latent
    residual: bool = False
    pixel_skip: bool = False  # bicubic-latent only: SR = bicubic + decode(SR latent) - decode(bicubic latent)
    schedule: str = "cosine"
    timesteps: int = 1000
    loss: str = "l1"  # l1 | l2 | log-l2 (mean over crops of log10 MSE, i.e. mean PSNR) on the (normalised) latent
    timestep_min: int = 0  # training draws t ~ U{timestep_min..timesteps-1}; timesteps-1 trains 1-step sampling only
    init: str | None = None  # start from a saved pipeline folder (fine-tuning)
    extra: dict[str, Any] = field(default_factory=dict)  # other build_pipeline keyword arguments


@dataclass
class AutoencoderSection:
    """The autoencoder being trained: from scratch (``pretrained: false``) or fine-tuned."""

    name: str = "zoo-demo-f4"  # registered name or saved autoencoder folder
    weights: str | None = None
    pretrained: bool = False
    config: dict[str, Any] = field(default_factory=dict)  # architecture overrides
    finetune: str = "full"  # full | lora
    lora_rank: int = 4
    lora_alpha: float = 4.0
    loss: str = "l1"  # l1 | l2 reconstruction
    kl_weight: float = 1e-6
    perceptual_weight: float = 0.0  # LPIPS term (needs torchmetrics' LPIPS weights)
    card: dict[str, Any] = field(default_factory=dict)  # card fields of the saved result (name, modality, ...)


@dataclass
class TrainConfig:
    """A complete training run."""

    task: str
    output: str
    seed: int = 42
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    pipeline: PipelineSection | None = None
    autoencoder: AutoencoderSection | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: v for k, v in out.items() if v is not None}

    @property
    def result_dir(self) -> Path:
        """Where the trained pipeline or autoencoder folder is written."""
        return Path(self.output) / ("pipeline" if self.task == "denoiser" else "autoencoder")


def _section(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    values = dict(raw)
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    return cls(**values)


def config_from_dict(raw: dict[str, Any]) -> TrainConfig:
    """Validate a config mapping and build a :class:`TrainConfig`."""
    if not isinstance(raw, dict):
        raise ConfigError("a training config must be a mapping")
    allowed = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    task = raw.get("task")
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if not raw.get("output"):
        raise ConfigError("output (the run folder) is required")
    cfg = TrainConfig(
        task=task,
        output=str(raw["output"]),
        seed=int(raw.get("seed", 42)),
        data=_section(DataSection, raw.get("data"), "data"),
        optim=_section(OptimSection, raw.get("optim"), "optim"),
        pipeline=_section(PipelineSection, raw.get("pipeline"), "pipeline") if task == "denoiser" else None,
        autoencoder=_section(AutoencoderSection, raw.get("autoencoder"), "autoencoder")
        if task == "autoencoder"
        else None,
    )
    _check(cfg)
    return cfg


def _check(cfg: TrainConfig) -> None:
    o = cfg.optim
    if o.schedule not in ("cosine", "cosine-epoch", "constant"):
        raise ConfigError(f"optim.schedule must be cosine, cosine-epoch or constant, got {o.schedule!r}")
    if o.mixed_precision not in ("no", "fp16", "bf16"):
        raise ConfigError(f"optim.mixed_precision must be no, fp16 or bf16, got {o.mixed_precision!r}")
    for key in ("batch_size", "grad_accum", "epochs", "val_every", "ckpt_every", "log_every"):
        if getattr(o, key) < 1:
            raise ConfigError(f"optim.{key} must be >= 1")
    if o.ema is not None and not 0.0 < o.ema < 1.0:
        raise ConfigError("optim.ema must be in (0, 1) or null")
    if cfg.data.root is None and cfg.data.latents is None:
        raise ConfigError("data.root (a prepared dataset folder) or data.latents is required")
    if cfg.pipeline is not None and cfg.pipeline.loss not in ("l1", "l2", "log-l2"):
        raise ConfigError("pipeline.loss must be l1, l2 or log-l2")
    if cfg.pipeline is not None and not 0 <= cfg.pipeline.timestep_min < cfg.pipeline.timesteps:
        raise ConfigError(f"pipeline.timestep_min must be in 0..{cfg.pipeline.timesteps - 1}, "
                          f"got {cfg.pipeline.timestep_min}")
    if cfg.autoencoder is not None:
        a = cfg.autoencoder
        if a.finetune not in ("full", "lora"):
            raise ConfigError("autoencoder.finetune must be full or lora")
        if a.loss not in ("l1", "l2"):
            raise ConfigError("autoencoder.loss must be l1 or l2")
        if a.finetune == "lora" and not (a.pretrained or a.weights):
            raise ConfigError("autoencoder.finetune: lora adapts trained weights: set pretrained: true or weights")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML (``.yaml``/``.yml``) or JSON config; relative data paths resolve against the file.

    ``overrides`` maps dotted keys (``optim.max_steps``) to values, applied before validation.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - parser errors vary; report them as one line
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a training config must be a mapping")
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    _resolve_paths(raw, path.parent)
    return config_from_dict(raw)


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Resolve data paths: ``zoo-asset:REL`` is packaged data (e.g. ``zoo-asset:samples/prepared``), a relative
    path that exists next to the config file is taken from there, else from the cwd (as is ``output``)."""
    data = raw.get("data") or {}
    for key in ("root", "latents"):
        value = data.get(key)
        if isinstance(value, str) and value.startswith("zoo-asset:"):
            from zoo.assets import asset_path

            data[key] = str(asset_path(value.removeprefix("zoo-asset:")))
        elif isinstance(value, str) and not Path(value).is_absolute() and (base / value).exists():
            data[key] = str((base / value).resolve())
