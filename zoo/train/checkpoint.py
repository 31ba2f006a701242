"""Atomic training checkpoints: weights, optimizer, EMA, step and RNG states in one folder.

Layout of ``RUN/checkpoints/last/`` (replaced atomically, so a run killed mid-save keeps the
previous checkpoint): ``model.safetensors``, ``ema.safetensors`` (if EMA), ``optimizer.pt``
(tensors and numbers only; read with ``weights_only=True``), ``rng.safetensors`` and
``state.json`` (step, epoch, config).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from zoo.folders.atomic import atomic_dir

__all__ = ["CHECKPOINT_DIRNAME", "checkpoint_path", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_DIRNAME = "checkpoints"


def checkpoint_path(run_dir: str | Path) -> Path:
    """The folder of the latest checkpoint of a run."""
    return Path(run_dir) / CHECKPOINT_DIRNAME / "last"


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _rng_state() -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{i}"] = s
    return state


def save_checkpoint(
    run_dir: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    epoch: int,
    config: dict[str, Any],
    ema_state: dict[str, torch.Tensor] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the checkpoint of optimizer step ``step`` atomically and return its folder."""
    target = checkpoint_path(run_dir)
    with atomic_dir(target, replace_all=True) as tmp:
        save_file(_contiguous(model.state_dict()), str(tmp / "model.safetensors"))
        if ema_state is not None:
            save_file(_contiguous(ema_state), str(tmp / "ema.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        save_file(_contiguous(_rng_state()), str(tmp / "rng.safetensors"))
        state = {"step": step, "epoch": epoch, "config": config, **(extra or {})}
        (tmp / "state.json").write_text(json.dumps(state, indent=2, default=str))
    return target


def load_checkpoint(
    run_dir: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str = "cpu",
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Restore model, optimizer and RNG states in place; return (state.json, EMA state or None)."""
    folder = checkpoint_path(run_dir)
    state = json.loads((folder / "state.json").read_text())
    model.load_state_dict(load_file(str(folder / "model.safetensors"), device=str(device)), strict=True)
    opt_state = torch.load(folder / "optimizer.pt", map_location=device, weights_only=True)
    optimizer.load_state_dict(opt_state)
    rng = load_file(str(folder / "rng.safetensors"))
    torch.set_rng_state(rng["torch"])
    cuda = [rng[k] for k in sorted(k for k in rng if k.startswith("cuda"))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    ema_file = folder / "ema.safetensors"
    ema = load_file(str(ema_file)) if ema_file.exists() else None
    return state, ema
