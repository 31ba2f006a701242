"""Built-in autoencoder cards (pure data; registered through zoo's own entry points).

Architectures are exact diffusers ``AutoencoderKL`` configs of the official models; see
shared reference ``vae.md`` for the evidence behind each value.
"""

from __future__ import annotations

from zoo.cards import AutoencoderCard

_FACTORY = "zoo.autoencoders.kl:build_autoencoder_kl"
_MEDVAE_SOURCE = {
    "paper": "https://arxiv.org/abs/2502.14753",
    "code": "https://github.com/StanfordMIMI/MedVAE",
    "weights": "https://huggingface.co/stanfordmimi/MedVAE",
}
_MEDVAE_MODALITY = ("CR", "DX", "MG", "MR", "CT")


def kl_config(in_channels: int, latent_channels: int, block_out_channels: list[int],
              scaling_factor: float = 1.0) -> dict:
    """diffusers ``AutoencoderKL`` config of an LDM KL autoencoder (attention only in mid blocks).

    ``scaling_factor`` is informational (zoo normalises latents itself); only the SD VAE has an
    official value (0.18215), so the others say 1.0 rather than diffusers' SD default.
    """
    n = len(block_out_channels)
    return {
        "in_channels": in_channels,
        "out_channels": in_channels,
        "down_block_types": ["DownEncoderBlock2D"] * n,
        "up_block_types": ["UpDecoderBlock2D"] * n,
        "block_out_channels": list(block_out_channels),
        "layers_per_block": 2,
        "latent_channels": latent_channels,
        "norm_num_groups": 32,
        "act_fn": "silu",
        "mid_block_add_attention": True,
        "use_quant_conv": True,
        "use_post_quant_conv": True,
        "scaling_factor": scaling_factor,
    }


def _medvae(name: str, ckpt: str, in_ch: int, latent: int, factor: int, note: str) -> AutoencoderCard:
    blocks = [128, 256, 512] if factor == 4 else [128, 256, 512, 512]
    return AutoencoderCard(
        name=name,
        factory=_FACTORY,
        description=f"MedVAE 2D, {factor}x per side, {latent} latent channel(s), {in_ch}-channel input. {note}",
        license="MIT",
        source=_MEDVAE_SOURCE,
        aliases=("medvae",) if name == "medvae-4-3" else (),
        config=kl_config(in_ch, latent, blocks),
        in_channels=in_ch,
        latent_channels=latent,
        downsample_factor=factor,
        modality=_MEDVAE_MODALITY,
        weights=f"hf:stanfordmimi/MedVAE/model_weights/{ckpt}",
        intensity="minmax",
    )


MEDVAE_4_1 = _medvae("medvae-4-1", "vae_4x_1c_2D.ckpt", 1, 1, 4, "Budget-matched to SD-VAE (1x64x64 at 256^2).")
MEDVAE_4_3 = _medvae("medvae-4-3", "vae_4x_3c_2D.ckpt", 3, 3, 4, "The paper's main model (3x64x64); LoRA merged.")
MEDVAE_4_4 = _medvae("medvae-4-4", "vae_4x_4c_2D.ckpt", 1, 4, 4, "4x64x64; NaN-prone under fp16, run in fp32.")
MEDVAE_8_1 = _medvae("medvae-8-1", "vae_8x_1c_2D.ckpt", 1, 1, 8, "1x32x32 at 256^2.")
MEDVAE_8_4 = _medvae("medvae-8-4", "vae_8x_4c_2D.ckpt", 3, 4, 8, "SD-VAE geometry (4x32x32); LoRA merged.")

SD_VAE = AutoencoderCard(
    name="sd-vae",
    factory=_FACTORY,
    description="Stable Diffusion VAE (kl-f8, sd-vae-ft-ema decoder), natural images, 4x32x32 at 256^2.",
    license="MIT",
    source={
        "paper": "https://arxiv.org/abs/2112.10752",
        "code": "https://github.com/CompVis/latent-diffusion",
        "weights": "https://huggingface.co/stabilityai/sd-vae-ft-ema",
    },
    config=kl_config(3, 4, [128, 256, 512, 512], scaling_factor=0.18215),
    in_channels=3,
    latent_channels=4,
    downsample_factor=8,
    modality=("natural",),
    weights="hf:stabilityai/sd-vae-ft-ema",
    intensity="fixed",
)

KL_F4 = AutoencoderCard(
    name="kl-f4",
    factory=_FACTORY,
    description="CompVis latent-diffusion first stage kl-f4 (3x64x64 at 256^2), natural images.",
    license="MIT (repository licence; not stated separately for the weights)",
    source={
        "paper": "https://arxiv.org/abs/2112.10752",
        "code": "https://github.com/CompVis/latent-diffusion",
        "weights": "https://ommer-lab.com/files/latent-diffusion/kl-f4.zip",
    },
    config=kl_config(3, 3, [128, 256, 512]),
    in_channels=3,
    latent_channels=3,
    downsample_factor=4,
    modality=("natural",),
    weights=None,
    intensity="fixed",
)
