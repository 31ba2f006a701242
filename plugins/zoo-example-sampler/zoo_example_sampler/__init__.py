"""The card of ``euler-ancestral``: pure data (no torch import)."""

from zoo.cards import SamplerCard

CARD = SamplerCard(
    name="euler-ancestral",
    factory="zoo_example_sampler.sampling:sample_euler_ancestral",  # the factory IS the sampler function
    description="Euler ancestral sampling (k-diffusion's, on zoo's discrete schedule); eta=0 is DDIM.",
    license="MIT",
    source={"paper": "https://arxiv.org/abs/2206.00364", "code": "https://github.com/crowsonkb/k-diffusion"},
    default_steps=10,
    config={"eta": 1.0},  # every key must be a keyword of the function (it has no **options)
)
