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


def small_export(root):
    """A real export (TorchScript exporter: fast) of :func:`small_pipeline` saved in ``root/saved``, with its
    ``pipeline/`` copy; returns ``root/export``."""
    from zoo_export.exporter import ExportOptions, export_pipeline

    import zoo

    small_pipeline().save_pretrained(root / "saved")
    export_pipeline(zoo.load_pipeline(root / "saved"), root / "export", ExportOptions(size=32, dynamo=False),
                    pipeline_dir=root / "saved")
    return root / "export"
