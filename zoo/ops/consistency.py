"""Data consistency: pull an SR image towards agreeing with its LR input (iterative back-projection).

``project_to_lr(sr, lr, n)`` repeats ``sr <- sr + bicubic_up(lr - down(sr))`` ``n`` times, where ``down`` is
the degradation zoo's data use (``zoo prepare``: PIL LANCZOS downsampling), computed here in torch for
integer factors so that it runs inside the pipeline on any device. It removes low-frequency errors the
model made (the part of the SR the LR already determines) and leaves detail the LR cannot see.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = ["BACK_PROJECTION_REACH", "lanczos_downsample", "project_to_lr"]

LANCZOS_A = 3  # PIL's LANCZOS: a 3-lobe windowed sinc
# LR rows one step reaches: the LANCZOS taps (LANCZOS_A LR rows), then the bicubic taps (2), rounded up
BACK_PROJECTION_REACH = LANCZOS_A + 3


def _lanczos(x: torch.Tensor) -> torch.Tensor:
    out = torch.sinc(x) * torch.sinc(x / LANCZOS_A)
    return torch.where(x.abs() < LANCZOS_A, out, torch.zeros_like(out))


def _kernel(factor: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, int]:
    """PIL's downsampling taps for an integer factor (offsets -pad .. -pad + len - 1 from ``factor * x``)."""
    support = LANCZOS_A * factor
    centre = factor / 2.0  # output pixel x covers input [factor*x, factor*x + factor), centre factor*x + factor/2
    first = math.floor(centre - support + 0.5)
    last = math.floor(centre + support + 0.5)  # exclusive, as PIL
    offsets = torch.arange(first, last, dtype=torch.float64)
    taps = _lanczos((offsets + 0.5 - centre) / factor)
    return taps.to(device=device, dtype=dtype), -first


def lanczos_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """B x C x H x W -> B x C x H/factor x W/factor like PIL ``resize(..., LANCZOS)`` (taps clipped at the
    borders and renormalised, as PIL does). H and W must be multiples of ``factor``."""
    if factor == 1:
        return x
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"lanczos_downsample: size {h}x{w} is not a multiple of the factor {factor}")
    taps, pad = _kernel(factor, x.dtype, x.device)
    k = taps.numel()
    right = k - factor - pad  # taps past the last output pixel's own block

    def along(t: torch.Tensor) -> torch.Tensor:  # the last axis
        lead = t.shape[:-1]
        flat = t.reshape(-1, 1, t.shape[-1])
        ones = torch.ones_like(flat[:1])
        padded, norm = F.pad(flat, (pad, right)), F.pad(ones, (pad, right))
        out = F.conv1d(padded, taps.view(1, 1, k), stride=factor) / F.conv1d(norm, taps.view(1, 1, k), stride=factor)
        return out.reshape(*lead, -1)

    return along(along(x).transpose(-1, -2)).transpose(-1, -2)


def project_to_lr(
    sr01: torch.Tensor, lr01: torch.Tensor, iterations: int, band: int = 256, halo: int = 32,
) -> torch.Tensor:
    """``iterations`` back-projection steps of ``sr01`` (B x C x H x W) onto ``lr01`` (B x C x h x w), in [0, 1].

    Large images run in bands of ``band`` LR rows with ``halo`` LR rows of context on each side (each step
    reaches a few LR rows: the LANCZOS taps and the bicubic kernel), so memory stays bounded by the band,
    and the result equals the whole-image projection."""
    factor = sr01.shape[-1] // lr01.shape[-1]
    if iterations < 1 or factor < 1 or sr01.shape[-2:] != (lr01.shape[-2] * factor, lr01.shape[-1] * factor):
        return sr01
    lr = lr01.to(sr01.device, torch.float32)
    h = lr.shape[-2]
    if h <= band + 2 * halo:
        return _project(sr01.float(), lr, iterations, factor).to(sr01.dtype)
    out = torch.empty_like(sr01)
    for top in range(0, h, band):
        lo, hi = max(top - halo, 0), min(top + band + halo, h)
        part = _project(sr01[..., lo * factor : hi * factor, :].float(), lr[..., lo:hi, :], iterations, factor)
        keep = part[..., (top - lo) * factor : (min(top + band, h) - lo) * factor, :]
        out[..., top * factor : top * factor + keep.shape[-2], :] = keep.to(sr01.dtype)
    return out


def _project(sr: torch.Tensor, lr: torch.Tensor, iterations: int, factor: int) -> torch.Tensor:
    for _ in range(iterations):
        error = lr - lanczos_downsample(sr, factor)
        sr = (sr + F.interpolate(error, size=sr.shape[-2:], mode="bicubic", align_corners=False)).clamp(0.0, 1.0)
    return sr
