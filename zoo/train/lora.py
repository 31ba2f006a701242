"""Low-rank adaptation (LoRA) of the Conv2d/Linear layers of a module, merged back after training.

MedVAE adapted the Stable Diffusion VAE with LoRA and merged it; ``add_lora`` + ``merge_lora`` do the
same for any zoo autoencoder, so the saved result is a plain autoencoder with the original layout.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["LoRAConv2d", "LoRALinear", "add_lora", "merge_lora"]


class LoRALinear(nn.Module):
    """``base(x) + (alpha/r) * B(A(x))`` with ``B`` zero-initialised (starts as the base layer)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def delta(self) -> torch.Tensor:
        return (self.lora_b @ self.lora_a) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + F.linear(F.linear(x, self.lora_a), self.lora_b) * self.scale


class LoRAConv2d(nn.Module):
    """LoRA for a Conv2d: a rank-``r`` conv with the base kernel, then a 1x1 conv back to ``out``."""

    def __init__(self, base: nn.Conv2d, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        k = base.kernel_size
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_channels // base.groups, *k))
        self.lora_b = nn.Parameter(torch.zeros(base.out_channels, rank, 1, 1))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def delta(self) -> torch.Tensor:
        a = self.lora_a.flatten(1)  # r x (in*kh*kw)
        return (self.lora_b.flatten(1) @ a).view_as(self.base.weight) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.base
        low = F.conv2d(x, self.lora_a, None, b.stride, b.padding, b.dilation)
        return b(x) + F.conv2d(low, self.lora_b) * self.scale


def add_lora(module: nn.Module, rank: int = 4, alpha: float = 4.0) -> list[nn.Parameter]:
    """Freeze ``module`` and wrap every Conv2d (groups=1) and Linear in a LoRA layer; return the new parameters."""
    for p in module.parameters():
        p.requires_grad_(False)
    params: list[nn.Parameter] = []
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            wrapped: nn.Module = LoRALinear(child, rank, alpha)
        elif isinstance(child, nn.Conv2d) and child.groups == 1 and child.padding_mode == "zeros":
            wrapped = LoRAConv2d(child, rank, alpha)
        else:
            params += add_lora(child, rank, alpha)
            continue
        setattr(module, name, wrapped)
        params += [wrapped.lora_a, wrapped.lora_b]
    return params


@torch.no_grad()
def merge_lora(module: nn.Module) -> nn.Module:
    """Fold every LoRA layer into its base weight and put the base layer back (in place)."""
    for name, child in list(module.named_children()):
        if isinstance(child, (LoRALinear, LoRAConv2d)):
            child.base.weight += child.delta().to(child.base.weight.dtype)
            setattr(module, name, child.base)
        else:
            merge_lora(child)
    for p in module.parameters():
        p.requires_grad_(True)
    return module
