"""A minimal zoo autoencoder plugin: one card (pure data) and one factory."""

from zoo.cards import AutoencoderCard

CARD = AutoencoderCard(
    name="example-vae",
    factory="zoo_example_vae.model:build",  # imported only when the VAE is built
    description="Small 1-channel KL autoencoder (4x downsampling, 4 latent channels).",
    license="MIT",
    source="https://example.org/zoo-example-vae",  # or {"code": ..., "paper": ..., "weights": ...}
    config={"block_out_channels": [32, 64, 64], "layers_per_block": 1, "norm_num_groups": 16},
    in_channels=1,
    latent_channels=4,
    downsample_factor=4,
    modality=["MR", "CT"],
    weights=None,  # no published weights: build with pretrained=False or weights=PATH
)
