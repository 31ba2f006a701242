"""Factory of the example autoencoder: zoo wraps the returned diffusers model automatically."""

from diffusers import AutoencoderKL


def build(block_out_channels=(32, 64, 64), layers_per_block=1, norm_num_groups=16) -> AutoencoderKL:
    n = len(block_out_channels)
    return AutoencoderKL(
        in_channels=1,
        out_channels=1,
        latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * n,
        up_block_types=["UpDecoderBlock2D"] * n,
        block_out_channels=list(block_out_channels),
        layers_per_block=layers_per_block,
        norm_num_groups=norm_num_groups,
    )
