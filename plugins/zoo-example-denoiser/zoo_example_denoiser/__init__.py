"""The card of ``example-resnet``: pure data (no torch import)."""

from zoo.cards import DenoiserCard

CARD = DenoiserCard(
    name="example-resnet",
    factory="zoo_example_denoiser.model:build",
    description="Small residual conv denoiser, concat-conditioned, any latent size (example plugin).",
    license="MIT",
    source="https://example.org/zoo-example-denoiser",
    config={"width": 32, "depth": 2},
    prediction_type="x0",
    weights=None,  # trained per autoencoder with `zoo train`; build with pretrained=False
)
