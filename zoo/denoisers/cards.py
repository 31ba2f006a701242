"""Built-in denoiser cards (pure data)."""

from __future__ import annotations

from zoo.cards import DenoiserCard

UNET = DenoiserCard(
    name="unet",
    factory="zoo.denoisers.unet:build_unet",
    description=(
        "diffusers UNet2DModel conditioned by channel concat (the paper's denoiser). "
        "Presets: paper (128/256/512/512, attention at 16x16), small, tiny."
    ),
    license="Apache-2.0 (diffusers architecture)",
    source={"paper": "https://arxiv.org/abs/2604.12152", "code": "https://github.com/sebasmos/latent-sr"},
    config={"preset": "paper"},
    prediction_type="x0",
)

DIT = DenoiserCard(
    name="dit",
    factory="zoo.denoisers.dit:build_dit",
    description="Transformer denoiser built from timm layers (patch embedding, attention/MLP blocks, adaLN).",
    license="Apache-2.0 (timm layers)",
    source={"paper": "https://arxiv.org/abs/2212.09748", "code": "https://github.com/huggingface/pytorch-image-models"},
    config={"preset": "small"},
    prediction_type="x0",
)

RESCONV = DenoiserCard(
    name="resconv",
    factory="zoo.denoisers.resconv:build_resconv",
    description=(
        "Local residual conv denoiser without normalisation or attention (EDSR-style blocks, timestep "
        "scale/shift): output independent of image and tile size. Presets: tiny, small (64 x 4 blocks), base."
    ),
    license="MIT (zoo)",
    source={"paper": "https://arxiv.org/abs/1707.02921"},
    config={"preset": "small"},
    prediction_type="x0",
)
