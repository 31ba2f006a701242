"""zoo's embedded default: an SR pipeline trained by zoo on the bundled samples, and its first stage.

Everything here is package data; ``zoo-asset:RELATIVE/PATH`` weight sources resolve into this folder.
Reproduce the weights with ``make weights`` (``scripts/train_default.py``).
"""

from __future__ import annotations

from pathlib import Path

from zoo.cards import AutoencoderCard

__all__ = ["ASSETS_DIR", "DEFAULT_PIPELINE_DIR", "ZOO_DEMO_F4", "ZOO_S2D_F4", "asset_path"]

ASSETS_DIR = Path(__file__).resolve().parent
DEFAULT_PIPELINE_DIR = ASSETS_DIR / "default_pipeline"


def asset_path(relative: str) -> Path:
    """The packaged file ``zoo/assets/<relative>`` (``..`` is refused)."""
    parts = Path(relative).parts
    if Path(relative).is_absolute() or ".." in parts:
        raise ValueError(f"zoo-asset paths are relative to zoo/assets and may not leave it: {relative!r}")
    return ASSETS_DIR.joinpath(*parts)


ZOO_DEMO_F4 = AutoencoderCard(
    name="zoo-demo-f4",
    factory="zoo.autoencoders.kl:build_autoencoder_kl",
    description=(
        "zoo's small demo VAE: a 0.65M-parameter AutoencoderKL (f4, 8 latent channels, blocks 16/32/64, "
        "1-channel), trained by zoo on the earlier bundled samples (128-px MR, CT, CR). The small trainable KL "
        "architecture for tests and from-scratch training; the embedded default pipeline uses zoo-s2d-f4. "
        "For demos and tests, not for research results."
    ),
    license="MIT",
    source={"recipe": "scripts/train_default.py (make weights)", "data": "zoo/assets/samples/LICENSES.md"},
    config={
        "in_channels": 1,
        "out_channels": 1,
        "down_block_types": ["DownEncoderBlock2D"] * 3,
        "up_block_types": ["UpDecoderBlock2D"] * 3,
        "block_out_channels": [16, 32, 64],
        "layers_per_block": 1,
        "latent_channels": 8,
        "norm_num_groups": 8,
        "act_fn": "silu",
        "mid_block_add_attention": False,
    },
    in_channels=1,
    latent_channels=8,
    downsample_factor=4,
    modality=("MR", "CT", "CR", "DX"),
    weights="zoo-asset:weights/zoo-demo-f4.safetensors",
    intensity="fixed",  # trained on [0, 1] slices; see scripts/train_default.py
)

ZOO_S2D_F4 = AutoencoderCard(
    name="zoo-s2d-f4",
    factory="zoo.autoencoders.patch:build_patch_autoencoder",
    description=(
        "The embedded default's first stage: a lossless space-to-depth autoencoder (f4, 16 latent channels = "
        "the 4x4 pixel patches of a 1-channel image; no trained parameters). Learned KL autoencoders that a "
        "2-core CPU trains within the `make weights` budget reconstructed the held-out scans below bicubic "
        "upsampling (zoo/assets/weights/README.md), which would cap a latent SR model below its baseline."
    ),
    license="MIT",
    source={"recipe": "scripts/train_default.py (make weights)", "code": "zoo/autoencoders/patch.py"},
    config={"in_channels": 1, "factor": 4},
    in_channels=1,
    latent_channels=16,
    downsample_factor=4,
    modality=("MR", "CT", "CR", "DX", "US"),
    weights="zoo-asset:default_pipeline/vae/autoencoder.safetensors",
    intensity="fixed",  # the pipeline's inputs are [0, 1] slices, as in training
)
