"""Throughput of `zoo prepare` and `zoo encode` on the bundled samples (images/s in extra_info).

Run: ``pytest benchmarks/test_bench_data.py --benchmark-only``. Not part of the test suite; nothing is
asserted about time. Encoding uses random weights (throughput does not depend on them).
"""

from __future__ import annotations

import shutil

import pytest
import torch

import zoo
from zoo.data import encode_dataset, read_manifest
from zoo.data.prepare import PrepareConfig, prepare
from zoo.data.samples import prepared_samples, sample_dir, sample_paths

TINY = {"block_out_channels": [8, 8, 8], "layers_per_block": 1, "norm_num_groups": 4}


@pytest.mark.parametrize("size,degradation", [(128, "lanczos"), (256, "lanczos"), (256, "kspace")])
def test_prepare(benchmark, tmp_path, size, degradation):
    out = tmp_path / "out"

    def run():  # at 256, slices under 128 px (more than 2x upsampling) are skipped and listed
        shutil.rmtree(out, ignore_errors=True)
        return prepare([sample_dir() / "slices"], out, PrepareConfig(size=size, degradation=degradation,
                                                                      subject_from="parent"), skip_bad=True)

    summary = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    n = sum(summary["counts"].values())
    assert n + len(summary["skipped"]) == len(sample_paths("slices"))
    benchmark.extra_info.update(images=n, size=size, degradation=degradation,
                                images_per_s=round(n / benchmark.stats.stats.mean, 1))


ENCODERS = [("kl-f4", TINY, None), ("zoo-demo-f4", {}, None), ("kl-f4", {}, 8), ("medvae-4-3", {}, 8)]


@pytest.mark.parametrize("name,overrides,limit", ENCODERS, ids=["tiny-kl-f4", "zoo-demo-f4", "kl-f4", "medvae-4-3"])
def test_encode(benchmark, tmp_path, name, overrides, limit):
    try:
        zoo.get_card("autoencoder", name)
    except Exception as err:  # the demo card may not be registered yet
        pytest.skip(f"{name}: {err}")
    torch.manual_seed(0)
    vae = zoo.build_autoencoder(name, pretrained=False, **overrides)
    data = prepared_samples()
    n = limit or len(read_manifest(data))
    out = tmp_path / "cache"

    def run():
        shutil.rmtree(out, ignore_errors=True)
        return encode_dataset(data, out, vae, name, batch_size=8, progress=False, limit=limit)

    info = benchmark.pedantic(run, rounds=2 if limit is None else 1, warmup_rounds=0)
    assert info["count"] == n
    benchmark.extra_info.update(images=n, hr_size=128, threads=torch.get_num_threads(),
                                images_per_s=round(n / benchmark.stats.stats.mean, 2),
                                note="per image: HR, LR and bicubic-upsampled LR encoded")
