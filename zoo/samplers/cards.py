"""Built-in sampler cards (pure data)."""

from __future__ import annotations

from zoo.cards import SamplerCard

_SRC = {"code": "https://github.com/crowsonkb/k-diffusion"}

DDPM = SamplerCard(
    name="ddpm", factory="zoo.samplers.sampling:sample_ddpm", default_steps=1000,
    description="Ancestral DDPM sampling (posterior variance), strided over the full schedule.",
    license="MIT", source={"paper": "https://arxiv.org/abs/2006.11239", **_SRC},
)
DDIM = SamplerCard(
    name="ddim", factory="zoo.samplers.sampling:sample_ddim", default_steps=50, config={"eta": 0.0},
    description="DDIM (eta=0 deterministic), steps strided over the full schedule.",
    license="MIT", source={"paper": "https://arxiv.org/abs/2010.02502", **_SRC},
)
DPMPP_2M = SamplerCard(
    name="dpmpp-2m", factory="zoo.samplers.sampling:sample_dpmpp_2m", default_steps=20,
    description="DPM-Solver++(2M), second-order multistep in data prediction.",
    license="MIT", source={"paper": "https://arxiv.org/abs/2211.01095", **_SRC},
)
COLD = SamplerCard(
    name="cold", factory="zoo.samplers.sampling:sample_cold", default_steps=50,
    config={"legacy_unstrided": False},
    description=(
        "The paper's x0 iteration with K steps strided over the full T "
        "(legacy_unstrided reproduces the seed code)."
    ),
    license="MIT", source={"paper": "https://arxiv.org/abs/2604.12152", "code": "https://github.com/sebasmos/latent-sr"},
)
