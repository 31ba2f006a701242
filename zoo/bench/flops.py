"""FLOPs of one call: ``torch.utils.flop_counter.FlopCounterMode`` plus attention counted by hand.

FlopCounterMode has formulas for the CUDA SDPA kernels but not for the CPU one
(``_scaled_dot_product_flash_attention_for_cpu``, reference export.md §1.1), so every
``F.scaled_dot_product_attention`` call is also seen by a function mode that counts its two
matmuls (``QK^T`` and ``PV``: 2 x 2 x B x heads x Lq x Lk x E). The hand count of a call is added
only when the counter itself counted nothing for it, and the report says whether that happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one call: what the counter saw, attention counted by hand, and how much of it was added."""

    counted: int
    attention_by_hand: int
    attention_added_flops: int

    @property
    def attention_added(self) -> bool:
        return self.attention_added_flops > 0

    @property
    def total(self) -> int:
        return self.counted + self.attention_added_flops

    def to_dict(self) -> dict[str, Any]:
        return {
            "gflop": round(self.total / 1e9, 4),
            "counted_gflop": round(self.counted / 1e9, 4),
            "attention_by_hand_gflop": round(self.attention_by_hand / 1e9, 6),
            "attention_added": self.attention_added,
        }


def sdpa_flops(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> int:
    """Matmul FLOPs of one scaled-dot-product attention (QK^T then PV), batch and head dims included."""
    *batch, lq, e = query.shape
    lk, ev = key.shape[-2], value.shape[-1]
    n = 1
    for b in batch:
        n *= b
    return 2 * n * lq * lk * e + 2 * n * lq * lk * ev


class _AttentionCounter(TorchFunctionMode):
    """Counts every ``F.scaled_dot_product_attention`` by hand, and adds the count where ``counter`` saw nothing.

    Whether FlopCounterMode counts an SDPA call depends on the kernel: the CUDA kernels and the
    decomposed math path (bmm) are counted, the fused CPU kernel is not. So the counter's total is
    read around each call.
    """

    def __init__(self, counter: FlopCounterMode) -> None:
        super().__init__()
        self.counter = counter
        self.by_hand = 0
        self.added = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch protocol
        kwargs = kwargs or {}
        if func is not F.scaled_dot_product_attention:
            return func(*args, **kwargs)
        q = args[0] if len(args) > 0 else kwargs["query"]
        k = args[1] if len(args) > 1 else kwargs["key"]
        v = args[2] if len(args) > 2 else kwargs["value"]
        hand = sdpa_flops(q, k, v)
        before = self.counter.get_total_flops()
        out = func(*args, **kwargs)
        self.by_hand += hand
        if self.counter.get_total_flops() == before:
            self.added += hand
        return out


def count_flops(fn: Callable[[], Any]) -> FlopCount:
    """FLOPs of ``fn()`` (run once under the counters, in inference mode)."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter, _AttentionCounter(counter) as attention:
        fn()
    return FlopCount(counted=int(counter.get_total_flops()), attention_by_hand=attention.by_hand,
                     attention_added_flops=attention.added)
