"""A DiT-style transformer denoiser (Peebles & Xie 2023) built from timm layers.

The noisy latent and the conditioning latent are concatenated on channels and patch-embedded;
fixed 2D sin-cos position embeddings are computed for the actual grid (any latent size that is a
multiple of the patch size); the timestep conditions every block through adaLN-Zero modulation.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from zoo.denoisers.base import Denoiser

__all__ = ["PRESETS", "DiT", "build_dit"]

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"hidden_size": 64, "depth": 2, "num_heads": 2, "patch_size": 2},
    "small": {"hidden_size": 256, "depth": 6, "num_heads": 4, "patch_size": 2},
    "base": {"hidden_size": 768, "depth": 12, "num_heads": 12, "patch_size": 2},
}


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (cos, sin) of float timesteps, B x ``dim``."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def sincos_2d(dim: int, grid_h: int, grid_w: int, device: torch.device) -> torch.Tensor:
    """Fixed 2D sin-cos position embedding, (grid_h·grid_w) x ``dim`` (half for rows, half for columns)."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter)
    ys, xs = torch.meshgrid(
        torch.arange(grid_h, device=device, dtype=torch.float32),
        torch.arange(grid_w, device=device, dtype=torch.float32),
        indexing="ij",
    )
    parts = []
    for pos in (ys.reshape(-1), xs.reshape(-1)):
        args = pos[:, None] * omega[None]
        parts += [torch.sin(args), torch.cos(args)]
    return torch.cat(parts, dim=-1)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Pre-norm attention + MLP block with adaLN-Zero modulation from the conditioning vector."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        from zoo.denoisers.timm_layers import Attention, Mlp

        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=True)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, hidden_features=int(dim * mlp_ratio), act_layer=lambda: nn.GELU(approximate="tanh"))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)
        x = x + gate1[:, None] * self.attn(_modulate(self.norm1(x), shift1, scale1))
        return x + gate2[:, None] * self.mlp(_modulate(self.norm2(x), shift2, scale2))


class DiT(Denoiser):
    """Transformer denoiser on ``cat[x_t, cond]`` patches; output has ``latent_channels`` channels."""

    def __init__(
        self, latent_channels: int, hidden_size: int, depth: int, num_heads: int, patch_size: int,
        mlp_ratio: float, prediction_type: str, config: dict[str, Any],
    ) -> None:
        super().__init__(latent_channels, prediction_type, patch_size, config)
        from zoo.denoisers.timm_layers import PatchEmbed

        self.patch_size = patch_size
        self.hidden_size = hidden_size
        self.patch_embed = PatchEmbed(
            img_size=None, patch_size=patch_size, in_chans=2 * latent_channels, embed_dim=hidden_size,
            strict_img_size=False,
        )
        self.time_embed = nn.Sequential(nn.Linear(256, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))
        self.blocks = nn.ModuleList(DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth))
        self.norm_out = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.proj_out = nn.Linear(hidden_size, patch_size * patch_size * latent_channels)
        for layer in (self.ada_out[1], self.proj_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self.check_inputs(x_t, cond)
        b, c, h, w = x_t.shape
        p = self.patch_size
        tokens = self.patch_embed(torch.cat([x_t, cond], dim=1))
        tokens = tokens + sincos_2d(self.hidden_size, h // p, w // p, x_t.device).to(tokens.dtype)
        emb = self.time_embed(timestep_embedding(t.reshape(-1).expand(b), 256).to(tokens.dtype))
        for block in self.blocks:
            tokens = block(tokens, emb)
        shift, scale = self.ada_out(emb).chunk(2, dim=-1)
        out = self.proj_out(_modulate(self.norm_out(tokens), shift, scale))  # B x N x p*p*C
        out = out.reshape(b, h // p, w // p, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return out.reshape(b, c, h, w)


def build_dit(
    preset: str = "small",
    latent_channels: int = 4,
    sample_size: int = 64,
    prediction_type: str = "x0",
    mlp_ratio: float = 4.0,
    **overrides: Any,
) -> DiT:
    """A DiT denoiser; ``preset`` ``tiny``/``small``/``base``; ``overrides``: hidden_size, depth, num_heads, patch_size.

    ``sample_size`` is recorded only (position embeddings follow the actual latent size).
    Needs timm (``pip install --no-deps timm``).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown dit preset {preset!r}; available: {', '.join(PRESETS)}")
    unknown = set(overrides) - set(PRESETS[preset])
    if unknown:
        raise ValueError(f"build_dit: unknown option(s) {sorted(unknown)}; options: {sorted(PRESETS[preset])}")
    arch = {**PRESETS[preset], **overrides}
    if arch["hidden_size"] % 4:
        raise ValueError(f"dit hidden_size must be a multiple of 4, got {arch['hidden_size']}")
    config = {"preset": preset, "latent_channels": latent_channels, "sample_size": sample_size,
              "prediction_type": prediction_type, "mlp_ratio": mlp_ratio, **overrides}
    return DiT(latent_channels, mlp_ratio=mlp_ratio, prediction_type=prediction_type, config=config, **arch)
