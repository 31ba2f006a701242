"""The training loop on HF Accelerate, shared by denoiser and autoencoder runs.

The same code runs on one CPU and under ``accelerate launch`` on several GPUs or nodes. A *task*
(:mod:`zoo.train.tasks`) supplies the model, the batches, the loss, validation and the saved result;
this module owns optimisation, mixed precision, EMA, clipping, accumulation, the resumable data
order, atomic checkpoints and logs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from zoo.folders.atomic import write_text
from zoo.train.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from zoo.train.config import ConfigError, OptimSection, TrainConfig
from zoo.train.ema import EMA
from zoo.train.logs import RunLogger
from zoo.train.order import DataOrder, step_generator

__all__ = ["TrainTask", "lr_at", "train"]

log = logging.getLogger(__name__)


class TrainTask(Protocol):
    """What the loop needs from a denoiser or autoencoder run."""

    model: nn.Module

    @property
    def num_items(self) -> int: ...

    def trainable_parameters(self) -> list[nn.Parameter]: ...

    def batch(self, indices: torch.Tensor, generator: torch.Generator, device: torch.device) -> Any: ...

    def loss(self, model: nn.Module, batch: Any, generator: torch.Generator) -> torch.Tensor: ...

    def validate(self, model: nn.Module) -> dict[str, float]: ...

    def save_result(self, model: nn.Module, path: Path) -> None: ...


def lr_at(step: int, total: int, optim: OptimSection, steps_per_epoch: int) -> float:
    """Learning rate of optimizer step ``step``: linear warm-up, then cosine to ``min_lr`` (or constant).

    ``cosine-epoch`` is the paper's ``CosineAnnealingLR(T_max=epochs)`` stepped once per epoch.
    """
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    if optim.schedule == "constant":
        return optim.lr
    if optim.schedule == "cosine-epoch":
        progress = min(step // max(steps_per_epoch, 1), optim.epochs) / optim.epochs
    else:
        span = max(total - optim.warmup_steps, 1)
        progress = min((step - optim.warmup_steps) / span, 1.0)
    return optim.min_lr + 0.5 * (optim.lr - optim.min_lr) * (1.0 + math.cos(math.pi * progress))


def _mixed_precision(requested: str) -> str:
    """fp16/bf16 only where there is a GPU; CPU runs stay fp32 (the config is unchanged)."""
    return requested if torch.cuda.is_available() else "no"


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a config that must not change between a run and its resume."""
    keep = {k: v for k, v in config.items() if k not in ("optim", "output")}  # a run folder may be moved
    optim = {k: v for k, v in config.get("optim", {}).items() if k not in ("val_every", "ckpt_every", "log_every")}
    return json.loads(json.dumps({**keep, "optim": optim}, default=str))


RUN_FILES = ("data.json", "checkpoints", "logs", "pipeline", "autoencoder")  # what a run writes in its folder


def _inputs(cfg: TrainConfig) -> list[str]:
    """The paths a run reads (its output may not be or hold one of them)."""
    items = [cfg.data.root, cfg.data.latents]
    if cfg.pipeline is not None:
        items += [cfg.pipeline.init, cfg.pipeline.vae_weights, cfg.pipeline.vae]
    if cfg.autoencoder is not None:
        items += [cfg.autoencoder.weights, cfg.autoencoder.name]
    return [str(i) for i in items if isinstance(i, str) and i and not i.startswith("hf:") and Path(i).exists()]


def check_run_dir(cfg: TrainConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Refuse, before any work, a run folder that holds an earlier run unless ``resume`` or ``overwrite``.

    Also refuses a run folder that is (or is inside) one of the run's inputs, and one that cannot be written.
    """
    from zoo.folders.guard import OutputExistsError, prepare_output

    run_dir = Path(cfg.output)
    try:
        prepare_output(run_dir, inputs=_inputs(cfg), overwrite=resume or overwrite, will_write=RUN_FILES,
                       option="output")
    except OutputExistsError:
        raise OutputExistsError(
            f"output {run_dir}: the run folder holds an earlier run; pass --resume to continue it or --overwrite to "
            "start over (replaces only data.json, checkpoints/, logs/ and the result folder), or choose another "
            "--out") from None
    return run_dir


def train(
    cfg: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    stop_at: int | None = None,
    overwrite: bool = False,
    device: str = "auto",
) -> Path:
    """Run (or resume) a training run and return the folder of its saved result.

    A run folder that holds an earlier run is refused unless ``resume`` (continue from its checkpoint)
    or ``overwrite`` (start at step 0; its checkpoint, metrics.csv and TensorBoard logs start afresh,
    other files are kept). ``stop_at`` ends the run after that optimizer step with a checkpoint but no
    result (used to split a run in two; the rest of the schedule is unchanged). ``device``: ``auto``
    (Accelerate's choice: the GPU of each process if there is one), ``cpu``, ``cuda`` or ``cuda:N`` (one process).
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    from zoo.train.tasks import build_task

    if device.startswith("cuda:"):
        torch.cuda.set_device(torch.device(device))  # Accelerate uses the current CUDA device
    accelerator = Accelerator(
        cpu=device == "cpu",
        mixed_precision=_mixed_precision(cfg.optim.mixed_precision),
        step_scheduler_with_optimizer=False,
    )
    device = accelerator.device
    run_dir = check_run_dir(cfg, resume=resume, overwrite=overwrite)
    accelerator.wait_for_everyone()  # every process checked the folder before any of them writes to it
    optim = cfg.optim
    torch.manual_seed(cfg.seed)
    task = build_task(cfg, device=device, is_main=accelerator.is_main_process)
    model = task.model.to(device)
    params = task.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=optim.lr, betas=optim.betas, weight_decay=optim.weight_decay)
    order = DataOrder(
        num_items=task.num_items,
        batch_size=optim.batch_size,
        seed=cfg.seed,
        world=accelerator.num_processes,
        repeat=cfg.data.repeat,
    )
    steps_per_epoch = max(order.batches_per_epoch // optim.grad_accum, 1)
    total = optim.max_steps if optim.max_steps is not None else optim.epochs * steps_per_epoch
    config_dict = cfg.to_dict()

    ema = EMA(model, optim.ema) if optim.ema else None
    start, state = 0, {}
    if resume and (checkpoint_path(run_dir) / "state.json").exists():
        state, ema_state = load_checkpoint(run_dir, model, optimizer, device=device)
        if _comparable(state["config"]) != _comparable(config_dict):
            raise ConfigError(
                f"{checkpoint_path(run_dir)}: the checkpoint was written with a different config; "
                "resume with the same config (only optim.val_every/ckpt_every/log_every may change)"
            )
        start = int(state["step"])
        if ema is not None:
            if ema_state is None:
                raise ConfigError(f"{checkpoint_path(run_dir)}: no EMA state in the checkpoint but optim.ema is set")
            ema.load_state_dict(ema_state)
        if accelerator.is_main_process:
            log.info("resuming %s at step %d/%d", run_dir, start, total)
    elif resume and accelerator.is_main_process:
        log.info("no checkpoint in %s; starting from step 0", run_dir)
    fresh = start == 0  # a new run, or --overwrite: nothing of an earlier run's checkpoint and logs continues
    if fresh and accelerator.is_main_process:
        import shutil

        shutil.rmtree(checkpoint_path(run_dir), ignore_errors=True)

    if accelerator.is_main_process:
        write_text(run_dir / "data.json", json.dumps({"root": cfg.data.root, "latents": cfg.data.latents,
                                                      **getattr(task, "ids", {})}, indent=1))
    model, optimizer = accelerator.prepare(model, optimizer)
    if start and accelerator.scaler is not None and state.get("grad_scaler"):
        accelerator.scaler.load_state_dict(state["grad_scaler"])  # fp16 loss scale continues where it was
    raw_model = accelerator.unwrap_model(model)
    logger = RunLogger(run_dir / "logs", start_step=start, enabled=accelerator.is_main_process, fresh=fresh)
    bar = tqdm(total=total, initial=start, desc="train", disable=not (progress and accelerator.is_main_process))
    end = total if stop_at is None else min(stop_at, total)
    rank = accelerator.process_index
    running: list[float] = []

    def checkpoint(step: int) -> None:
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            epoch = (step * optim.grad_accum) // order.batches_per_epoch
            scaler = accelerator.scaler.state_dict() if accelerator.scaler is not None else None
            save_checkpoint(run_dir, raw_model, optimizer.optimizer, step, epoch, config_dict,
                            ema.state_dict() if ema else None, {"total_steps": total, "grad_scaler": scaler})
        accelerator.wait_for_everyone()

    def evaluation_weights() -> contextlib.AbstractContextManager:
        return ema.applied(raw_model) if ema is not None else contextlib.nullcontext(raw_model)

    model.train()
    for step in range(start, end):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total, optim, steps_per_epoch)
        for micro in range(optim.grad_accum):
            index = step * optim.grad_accum + micro
            epoch, items = order.batch(index, rank)
            gen = step_generator(cfg.seed, index, rank)
            batch = task.batch(items, gen, device)
            sync = micro == optim.grad_accum - 1
            with contextlib.nullcontext() if sync else accelerator.no_sync(model), accelerator.autocast():
                loss = task.loss(model, batch, gen)
                accelerator.backward(loss / optim.grad_accum)
            running.append(float(loss.detach()))
        grad_norm = None
        if optim.grad_clip:
            grad_norm = float(accelerator.clip_grad_norm_(params, optim.grad_clip))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.update(raw_model, step)
        done = step + 1
        bar.update(1)
        if done % optim.log_every == 0 or done == end:
            mean_loss = sum(running) / len(running)
            running.clear()
            bar.set_postfix(loss=f"{mean_loss:.4f}")
            logger.log(done, {"epoch": epoch, "loss": mean_loss, "lr": optimizer.param_groups[0]["lr"],
                              "grad_norm": grad_norm})
        if done % optim.val_every == 0 or done == total:
            if accelerator.is_main_process:
                model.eval()
                with evaluation_weights() as m, torch.no_grad():
                    metrics = task.validate(m)
                model.train()
                if metrics:
                    logger.log(done, {f"val_{k}": v for k, v in metrics.items()})
                    bar.write("zoo: step {}: {}".format(done, ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())))
            accelerator.wait_for_everyone()
        if done % optim.ckpt_every == 0 or done == end:
            checkpoint(done)
    bar.close()
    logger.close()
    result = cfg.result_dir
    if end == total and accelerator.is_main_process:
        model.eval()
        with evaluation_weights() as m:
            task.save_result(m, result)
    accelerator.wait_for_everyone()
    return result
