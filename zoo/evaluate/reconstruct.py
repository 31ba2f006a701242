"""Autoencoder round trips for evaluation: ``[0,1] gray -> VAE input -> encode -> decode -> [0,1] gray``.

Mapping (paper §2.12, fp32, posterior mode) by :mod:`zoo.autoencoders.preprocess`: gray is
replicated to the VAE's input channels and mapped to [-1,1], the output is ``((x+1)/2).clamp(0,1)``
averaged over channels. A card with ``intensity="minmax"`` (MedVAE) min-max scales each image
first; the reconstruction is mapped back to the image's own range so it is scored against the
original.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from zoo.autoencoders.preprocess import from_model_output, to_model_input


@dataclass
class RoundTrip:
    """Reconstructions and latents of a batch, with the time spent encoding and decoding."""

    recon: np.ndarray  # B x H x W in [0, 1]
    latents: torch.Tensor
    encode_s: float
    decode_s: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _value_range(x01: torch.Tensor, ae) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-image (low, high) that ``minmax`` preprocessing removes, to map reconstructions back."""
    if getattr(ae.card, "intensity", "fixed") == "minmax":
        return x01.amin(dim=(1, 2, 3), keepdim=True), x01.amax(dim=(1, 2, 3), keepdim=True)
    return torch.zeros_like(x01[:, :1, :1, :1]), torch.ones_like(x01[:, :1, :1, :1])


@torch.inference_mode()
def round_trip(ae, images: np.ndarray, device: str | torch.device = "cpu") -> RoundTrip:
    """Encode (posterior mode) and decode a stack of [0,1] images (B x H x W) in fp32."""
    device = torch.device(device)
    x01 = torch.from_numpy(np.ascontiguousarray(images, np.float32))[:, None].to(device)
    x = to_model_input(x01, ae)
    low, high = _value_range(x01, ae)
    _sync(device)
    t0 = time.perf_counter()
    z = ae.encode(x)
    _sync(device)
    t1 = time.perf_counter()
    y = ae.decode(z)
    _sync(device)
    t2 = time.perf_counter()
    recon = (from_model_output(y.float(), channels=1) * (high - low) + low)[:, 0].double().cpu().numpy()
    return RoundTrip(recon=recon, latents=z.float().cpu(), encode_s=t1 - t0, decode_s=t2 - t1)


def crop_to_multiple(image: np.ndarray, factor: int) -> np.ndarray:
    """Centre-crop an H x W image so both sides are multiples of ``factor``."""
    h, w = image.shape
    nh, nw = h // factor * factor, w // factor * factor
    if nh == 0 or nw == 0:
        raise ValueError(f"image {h}x{w} is smaller than the autoencoder's downsample factor {factor}")
    top, left = (h - nh) // 2, (w - nw) // 2
    return image[top:top + nh, left:left + nw]


def load_autoencoder(name: str, weights: str | None = None, untrained: bool = False, device: str = "cpu",
                     overrides: dict | None = None):
    """Build a registered autoencoder in fp32 eval mode on ``device`` (random weights if ``untrained``)."""
    from zoo.factory import build_autoencoder

    ae = build_autoencoder(name, weights=weights, pretrained=not untrained, **(overrides or {}))
    return ae.to(device=device, dtype=torch.float32).eval()
