"""The card of ``example-conv-ae``: pure data, imported by ``zoo list`` (so no torch here)."""

from zoo.cards import AutoencoderCard

CARD = AutoencoderCard(
    name="example-conv-ae",
    factory="zoo_example_ae.model:build",  # imported only when the autoencoder is built
    description="Deterministic conv autoencoder, 1 channel, 8x downsampling, 8 latent channels (example plugin).",
    license="MIT",
    source="https://example.org/zoo-example-ae",  # a URL string, or {"code": ..., "paper": ...}
    config={"width": 16},  # keyword arguments of the factory; users may override them
    in_channels=1,
    latent_channels=8,
    downsample_factor=8,
    modality=["MR", "CT", "CR"],
    intensity="minmax",
    fp16_safe=False,  # True only once checked in fp16 (zoo.autoencoders.precision.check_fp16)
    # weights shipped inside this package (see pyproject.toml's package-data), checked against sha256
    weights="package:zoo_example_ae/weights/conv-ae-f8c8.safetensors",
    sha256="6c00d778d314070cdea54d06096c1b6310fdd2accb3fc1f36c8e9d02a1709a33",
)
