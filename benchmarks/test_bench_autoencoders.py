"""Encode and decode latency of every built-in autoencoder at 256x256 on CPU (random weights, float32).

Run: ``pytest benchmarks/test_bench_autoencoders.py --benchmark-only`` (slow: 14 benchmarks of 55-84M
parameter models). Not part of the test suite; nothing is asserted about time.
"""

from __future__ import annotations

import pytest
import torch

from zoo import build_autoencoder

NAMES = ["sd-vae", "kl-f4", "medvae-4-1", "medvae-4-3", "medvae-4-4", "medvae-8-1", "medvae-8-4"]
SIZE = 256


@pytest.fixture(scope="module")
def models() -> dict:
    torch.manual_seed(0)
    return {}


def _model(models: dict, name: str):
    if name not in models:
        models.clear()  # keep one model in memory at a time
        models[name] = build_autoencoder(name, pretrained=False).eval()
    return models[name]


@pytest.mark.parametrize("name", NAMES)
def test_encode_256(benchmark, models, name):
    ae = _model(models, name)
    x = torch.rand(1, ae.in_channels, SIZE, SIZE) * 2 - 1
    benchmark.extra_info.update(threads=torch.get_num_threads(), size=SIZE, dtype="float32")
    with torch.inference_mode():
        z = benchmark.pedantic(ae.encode, args=(x,), rounds=3, warmup_rounds=1)
    assert z.shape == (1, ae.latent_channels, SIZE // ae.downsample_factor, SIZE // ae.downsample_factor)


@pytest.mark.parametrize("name", NAMES)
def test_decode_256(benchmark, models, name):
    ae = _model(models, name)
    f = ae.downsample_factor
    z = torch.randn(1, ae.latent_channels, SIZE // f, SIZE // f)
    benchmark.extra_info.update(threads=torch.get_num_threads(), size=SIZE, dtype="float32")
    with torch.inference_mode():
        out = benchmark.pedantic(ae.decode, args=(z,), rounds=3, warmup_rounds=1)
    assert out.shape == (1, ae.in_channels, SIZE, SIZE)
