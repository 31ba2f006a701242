"""PSNR of the embedded default on the held-out split through ``backend="auto"`` and through torch eager.

    python scripts/auto_vs_torch.py      # one line per image, then max |dPSNR| (issue #27: <= 0.02 dB)

The first run on a machine exports and validates the auto backend's runtime (docs/backends.md).
"""

from __future__ import annotations

import math
import sys

import torch


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1 / torch.mean((a.double() - b.double()) ** 2).item())


def main() -> int:
    import zoo
    from zoo.assets import ASSETS_DIR
    from zoo.bench.quality import held_out_pairs

    ids, lr, hr = held_out_pairs(ASSETS_DIR / "samples" / "prepared", "test")
    reference, auto = zoo.default_pipeline(backend="torch"), zoo.default_pipeline()
    print(f"auto: {auto.backend.choice.backend} ({auto.backend.choice.reason})")
    deltas = []
    for i, name in enumerate(ids):
        ours, eager = auto(lr[i : i + 1], seed=0, progress=False), reference(lr[i : i + 1], seed=0, progress=False)
        deltas.append(psnr(ours, hr[i : i + 1]) - psnr(eager, hr[i : i + 1]))
        print(f"{name}: torch {psnr(eager, hr[i : i + 1]):.3f} dB, auto {psnr(ours, hr[i : i + 1]):.3f} dB, "
              f"dPSNR {deltas[-1]:+.4f} dB, auto vs torch {psnr(ours, eager):.1f} dB")
    print(f"{len(ids)} images: max |dPSNR| {max(map(abs, deltas)):.4f} dB, mean {sum(deltas) / len(deltas):+.4f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
