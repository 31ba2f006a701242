"""Deterministic, resumable data order: which items every process sees at every step.

The order is a pure function of (seed, epoch, step), so a run resumed at step ``s`` sees exactly
the batches an uninterrupted run would have seen, on one process or many.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_EPOCH_SALT = 1_000_003
_STEP_SALT = 7_919


@dataclass(frozen=True)
class DataOrder:
    """Per-epoch shuffles of ``num_items * repeat`` slots, split between ``world`` processes (drop_last)."""

    num_items: int
    batch_size: int
    seed: int
    world: int = 1
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.num_items < 1:
            raise ValueError("no training items")
        if self.batches_per_epoch < 1:
            raise ValueError(
                f"{self.num_items} training item(s) x repeat {self.repeat} is fewer than one global batch "
                f"({self.batch_size} x {self.world} processes); lower optim.batch_size or raise data.repeat"
            )

    @property
    def batches_per_epoch(self) -> int:
        return (self.num_items * self.repeat) // (self.batch_size * self.world)

    def permutation(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * _EPOCH_SALT + epoch)
        return torch.randperm(self.num_items * self.repeat, generator=g) % self.num_items

    def batch(self, index: int, rank: int = 0) -> tuple[int, torch.Tensor]:
        """(epoch, item indices) of global micro-batch ``index`` for process ``rank``."""
        epoch, pos = divmod(index, self.batches_per_epoch)
        start = (pos * self.world + rank) * self.batch_size
        return epoch, self.permutation(epoch)[start : start + self.batch_size]


def step_generator(seed: int, index: int, rank: int = 0) -> torch.Generator:
    """The CPU generator for micro-batch ``index`` on ``rank`` (crops, flips, noise, timesteps)."""
    return torch.Generator().manual_seed((seed * _EPOCH_SALT + index) * _STEP_SALT + rank)
