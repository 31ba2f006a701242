"""Denoiser cost on CPU: seconds per evaluation and evaluations per image for each sampler.

Run: ``pytest benchmarks/test_bench_denoisers.py --benchmark-only``. Not part of the test suite;
nothing is asserted about time.

* ``test_unet_eval_*``: one forward pass of the denoiser presets at the medvae-4-3 geometry
  (3 x 64 x 64 latent, i.e. 256 x 256 images), batch 1, random weights, float32.
* ``test_sampler_evaluations``: each built-in sampler at its card's default steps with a free
  (identity) model; ``extra_info["evals_per_image"]`` is the number of denoiser evaluations per
  image, so per-image sampling time ~ evals_per_image x seconds per evaluation.
"""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.samplers.schedules import cosine_schedule

LATENT = (3, 64, 64)  # medvae-4-3 at 256 x 256


@pytest.mark.parametrize("preset", ["paper", "small", "tiny"])
def test_unet_eval_medvae43(benchmark, preset: str) -> None:
    torch.manual_seed(0)
    model = zoo.build_denoiser("unet", pretrained=False, preset=preset, latent_channels=3, sample_size=64).eval()
    x, cond, t = torch.randn(1, *LATENT), torch.randn(1, *LATENT), torch.tensor([500])
    params = sum(p.numel() for p in model.parameters())
    benchmark.extra_info.update(threads=torch.get_num_threads(), latent=list(LATENT), params=params, batch=1)
    with torch.inference_mode():
        out = benchmark.pedantic(model, args=(x, t, cond), rounds=3, warmup_rounds=1)
    assert out.shape == (1, *LATENT)


@pytest.mark.parametrize("preset", ["small", "tiny"])
def test_dit_eval_medvae43(benchmark, preset: str) -> None:
    torch.manual_seed(0)
    model = zoo.build_denoiser("dit", pretrained=False, preset=preset, latent_channels=3, sample_size=64).eval()
    x, cond, t = torch.randn(1, *LATENT), torch.randn(1, *LATENT), torch.tensor([500])
    benchmark.extra_info.update(threads=torch.get_num_threads(), latent=list(LATENT), batch=1,
                                params=sum(p.numel() for p in model.parameters()))
    with torch.inference_mode():
        out = benchmark.pedantic(model, args=(x, t, cond), rounds=3, warmup_rounds=1)
    assert out.shape == (1, *LATENT)


@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpmpp-2m", "cold"])
def test_sampler_evaluations(benchmark, name: str) -> None:
    sampler = zoo.build_sampler(name)
    schedule = cosine_schedule()
    calls: list[int] = []

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append(x_t.shape[0])
        return x_t

    x = torch.randn(2, *LATENT)
    benchmark.pedantic(lambda: sampler(model, x, schedule=schedule, disable=True), rounds=1, iterations=1)
    evals_per_image = len(calls)  # one evaluation covers the whole batch; per image: one per step
    benchmark.extra_info.update(default_steps=sampler.default_steps, evals_per_image=evals_per_image)
    assert evals_per_image == sampler.default_steps
