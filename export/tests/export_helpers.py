"""Small configs of the real architectures, shared by the zoo-export tests."""

from __future__ import annotations


def small_vae_config(name: str) -> dict:
    """Same architecture as the card (depth, blocks, attention), far fewer channels; a card without
    channel widths (the parameter-free ``zoo-s2d-f4``) as it is."""
    from zoo.registry import get_card

    blocks = get_card("autoencoder", name).config.get("block_out_channels")
    if blocks is None:
        return {}
    return {"block_out_channels": [8 * min(i + 1, 2) for i in range(len(blocks))], "norm_num_groups": 4}


SMALL_DENOISER = {"preset": "tiny", "block_out_channels": [8, 16], "norm_num_groups": 4}


def small_pipeline(vae: str = "medvae-4-3", size: int = 32, scale: int = 2):
    import torch

    import zoo

    torch.manual_seed(0)
    return zoo.build_pipeline(
        vae, "unet", "ddim", steps=2, scale=scale, pretrained=False, hr_size=size,
        vae_config=small_vae_config(vae), denoiser_config=dict(SMALL_DENOISER),
    )
