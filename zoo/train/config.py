"""Training configs: one YAML or JSON file describes a whole run (task, data, model, optimisation).

A config has four sections besides ``task``/``seed``/``output``: ``data``, ``optim``, and the
task's own section (``pipeline`` for a denoiser run, ``autoencoder`` for an autoencoder run).
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
import types
import typing
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
    hints = typing.get_type_hints(cls)
    for key, value in raw.items():
        _check_type(value, hints[key], f"{where}.{key}")
    values = dict(raw)
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    return cls(**values)


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list",
               dict: "a mapping", tuple: "a list"}


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return False
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if origin is tuple and args and len(typing.get_args(hint)) == len(args) and len(value) != len(args):
            return False
        return not args or all(_type_ok(v, args[min(i, len(args) - 1)]) for i, v in enumerate(value))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        names = [_describe(h) for h in typing.get_args(hint) if h is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in typing.get_args(hint) else "")
    if typing.get_origin(hint) is tuple:
        return f"a list of {len(typing.get_args(hint))} numbers"
    return _TYPE_NAMES.get(typing.get_origin(hint) or hint, str(hint))


def _check_type(value: Any, hint: Any, where: str) -> None:
    if not _type_ok(value, hint):
        raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r}")


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
    if not isinstance(raw["output"], str):
        raise ConfigError(f"output: expected a folder path, got {raw['output']!r}")
    _check_type(raw.get("seed", 42), int, "seed")
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
            raise ConfigError(f"optim.{key} must be >= 1, got {getattr(o, key)}")
    if o.max_steps is not None and o.max_steps < 1:
        raise ConfigError(f"optim.max_steps must be >= 1 (or null to train optim.epochs epochs), got {o.max_steps}")
    for key in ("warmup_steps",):
        if getattr(o, key) < 0:
            raise ConfigError(f"optim.{key} must be >= 0, got {getattr(o, key)}")
    for key in ("lr", "min_lr"):
        if getattr(o, key) < 0:
            raise ConfigError(f"optim.{key} must be >= 0, got {getattr(o, key)}")
    if o.grad_clip is not None and o.grad_clip <= 0:
        raise ConfigError(f"optim.grad_clip must be > 0 or null, got {o.grad_clip}")
    d = cfg.data
    for key in ("max_val", "repeat"):
        if getattr(d, key) < 1:
            raise ConfigError(f"data.{key} must be >= 1, got {getattr(d, key)}")
    if d.crop is not None and d.crop < 1:
        raise ConfigError(f"data.crop must be >= 1 or null, got {d.crop}")
    if cfg.pipeline is not None:
        for key in ("steps", "scale", "hr_size", "timesteps"):
            if getattr(cfg.pipeline, key) < 1:
                raise ConfigError(f"pipeline.{key} must be >= 1, got {getattr(cfg.pipeline, key)}")
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
        dotted = _full_key(dotted, raw.get("task"))
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    _resolve_paths(raw, path.parent)
    return config_from_dict(raw)


def _full_key(key: str, task: Any) -> str:
    """``max_steps`` -> ``optim.max_steps``: a key without a section names the one section that has it."""
    top = {f.name for f in fields(TrainConfig)}
    if "." in key or key in top:
        return key
    sections = {"data": DataSection, "optim": OptimSection,
                "pipeline" if task != "autoencoder" else "autoencoder":
                PipelineSection if task != "autoencoder" else AutoencoderSection}
    owners = [name for name, cls in sections.items() if key in {f.name for f in fields(cls)}]
    if len(owners) == 1:
        return f"{owners[0]}.{key}"
    if owners:
        raise ConfigError(f"--set {key}: ambiguous, use one of {', '.join(f'{o}.{key}' for o in owners)}")
    raise ConfigError(f"--set {key}: unknown key; use SECTION.KEY (sections: {', '.join(sections)}) "
                      f"or one of {', '.join(sorted(top))}")


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
