"""Make zoo_example_ae/weights/conv-ae-f8c8.safetensors: the seed-0 initialisation, trained for STEPS steps
(default 0) of L1 reconstruction on zoo's bundled sample slices; prints the sha256 that the card records.

    python plugins/zoo-example-ae/make_weights.py [STEPS]     # from zoo's repository root, zoo installed

The shipped file is STEPS=0 (a stand-in that shows how weights ship in a package); after 100 steps
the L1 error on [-1, 1] crops is below 0.08.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from zoo_example_ae.model import build

from zoo.weights import sha256_file

SAMPLES = Path(__file__).resolve().parents[2] / "zoo" / "assets" / "samples" / "slices"
OUT = Path(__file__).resolve().parent / "zoo_example_ae" / "weights" / "conv-ae-f8c8.safetensors"


def load_slices() -> list[torch.Tensor]:
    return [torch.from_numpy(np.asarray(Image.open(f).convert("L"), dtype=np.float32))
            for f in sorted(SAMPLES.rglob("*.png"))]


def crops(images: list[torch.Tensor], generator: torch.Generator, n: int, size: int = 64) -> torch.Tensor:
    """Random ``size`` crops of the sample slices, each min-max scaled to [-1, 1] (the card's intensity)."""
    out = []
    for i in torch.randint(len(images), (n,), generator=generator).tolist():
        img = images[i]
        y, x = (torch.randint(max(1, s - size), (1,), generator=generator).item() for s in img.shape)
        crop = img[y : y + size, x : x + size]
        crop = (crop - crop.min()) / (crop.max() - crop.min()).clamp_min(1e-6)
        out.append(crop * 2 - 1)
    return torch.stack(out)[:, None]


def main(steps: int = 0) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    images = load_slices() if steps else []
    model = build()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(steps):
        x = crops(images, generator, 16)
        loss = torch.nn.functional.l1_loss(model.decode(model.encode(x)), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step}: L1 {loss.item():.4f}", flush=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(OUT))
    print(f"{OUT}\nsha256={sha256_file(OUT)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
