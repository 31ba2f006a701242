"""Autoencoder precision: fp32 by default, bf16 on request, fp16 only after a probe passes.

KL VAEs of the LDM family overflow in fp16 (MedVAE 4_4 gives NaN latents under fp16 autocast; the
SD/SDXL VAEs are known to as well). :func:`to_dtype` therefore checks fp16 on a probe batch against
fp32 and keeps fp32, with a warning, if the result is not finite or not within tolerance (the idea
of diffusers' ``force_upcast``).
"""

from __future__ import annotations

import copy
import warnings

import torch

from zoo.autoencoders.base import Autoencoder

__all__ = ["Fp16CheckResult", "check_fp16", "to_dtype"]


class Fp16CheckResult(dict):
    """Outcome of :func:`check_fp16`: ``ok``, ``finite``, ``latent_err``, ``decode_err`` (relative max abs)."""


def _rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a.float() - ref).abs().max() / ref.abs().max().clamp_min(1e-6))


@torch.no_grad()
def check_fp16(ae: Autoencoder, probe: torch.Tensor, tol: float = 2e-2) -> Fp16CheckResult:
    """Compare an fp16 copy of ``ae`` with fp32 on ``probe`` (B x C x H x W in [-1, 1]) for encode and decode."""
    ref = copy.deepcopy(ae).float().eval()
    half = copy.deepcopy(ae).half().eval()
    x = probe.to(next(ref.parameters()).device, torch.float32)
    z_ref = ref.encode(x)
    z_half = half.encode(x.half())
    dec_ref = ref.decode(z_ref)
    dec_half = half.decode(z_ref.half())
    finite = bool(torch.isfinite(z_half).all() and torch.isfinite(dec_half).all())
    latent_err = _rel_err(z_half, z_ref) if finite else float("inf")
    decode_err = _rel_err(dec_half, dec_ref) if finite else float("inf")
    return Fp16CheckResult(ok=finite and max(latent_err, decode_err) <= tol, finite=finite,
                           latent_err=latent_err, decode_err=decode_err, tol=tol)


def to_dtype(ae: Autoencoder, dtype: torch.dtype, probe: torch.Tensor | None = None,
             tol: float = 2e-2) -> Autoencoder:
    """Move ``ae`` to ``dtype`` in place and return it; fp16 only if :func:`check_fp16` passes on ``probe``.

    A card marked ``fp16_safe`` skips the probe. Otherwise, without a probe, or if the probe fails,
    the autoencoder stays (or is upcast to) float32 and a ``RuntimeWarning`` says why.
    """
    if dtype in (torch.float32, torch.float64, torch.bfloat16):
        return ae.to(dtype)
    if dtype != torch.float16:
        raise ValueError(f"unsupported autoencoder dtype {dtype}; use float32, bfloat16 or float16")
    card_safe = bool(getattr(ae.card, "fp16_safe", False))
    if card_safe:
        return ae.to(dtype)
    if probe is None:
        warnings.warn(f"{ae.name}: fp16 requested without a probe batch to check it; keeping float32",
                      RuntimeWarning, stacklevel=2)
        return ae.float()
    result = check_fp16(ae, probe, tol)
    if not result["ok"]:
        reason = "non-finite output" if not result["finite"] else (
            f"error latent {result['latent_err']:.2e}, decode {result['decode_err']:.2e} > {tol:.0e}")
        warnings.warn(f"{ae.name}: fp16 failed the probe check ({reason}); upcasting to float32",
                      RuntimeWarning, stacklevel=2)
        return ae.float()
    return ae.to(dtype)
