"""`zoo encode`: latents keyed by id, recorded settings, resume after SIGKILL, aligned datasets."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors import safe_open

import zoo
from zoo.data import LatentPairDataset, PairedImageDataset, encode_dataset, load_latents, read_manifest
from zoo.data.encode import shard_files
from zoo.data.prepare import PrepareConfig, prepare
from zoo.data.samples import sample_paths

TINY = {"block_out_channels": [8, 8, 8], "layers_per_block": 1, "norm_num_groups": 4}
TINY_ARGS = [a for k, v in TINY.items() for a in ("--override", f"{k}={json.dumps(v)}")]


def tiny_vae():
    torch.manual_seed(0)
    return zoo.build_autoencoder("kl-f4", pretrained=False, **TINY)


@pytest.fixture(scope="module")
def small_prepared(tmp_path_factory):
    """12 bundled sample slices prepared at 64 -> 16 (x4), subjects from the folder names."""
    out = tmp_path_factory.mktemp("prep") / "data"
    files = sample_paths("slices", "mni152")[:6] + sample_paths("slices", "dipy-b0")[:3] + \
        sample_paths("slices", "nema-cr-chest")[:3]
    prepare(files, out, PrepareConfig(size=64, scale=4, subject_from="parent",
                                      assign={"dipy-b0": "val", "nema-cr-chest": "test"}, fractions=(1, 0, 0)))
    return out


def test_encode_stores_latents_by_id_with_settings(tmp_path, small_prepared):
    vae = tiny_vae()
    weights = tmp_path / "tiny.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(weights))
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    info = encode_dataset(small_prepared, tmp_path / "cache", vae, "kl-f4", weights=weights, weights_sha256=sha,
                          batch_size=5, progress=False, vae_overrides=TINY)
    assert info["complete"] and info["count"] == 12 and info["weights_sha256"] == sha
    assert info["vae_overrides"] == TINY and "to_model_input" in info["preprocessing"]["to_model_input"]
    records = read_manifest(small_prepared)
    latents = load_latents(tmp_path / "cache")
    assert set(latents) == {r.id for r in records}
    rec = records[0]
    z = latents[rec.id]
    assert z["hr"].shape == (3, 16, 16) and z["lr"].shape == (3, 4, 4) and z["lr_up"].shape == (3, 16, 16)
    from zoo.autoencoders.preprocess import to_model_input
    from zoo.data import load_unit

    x = torch.from_numpy(load_unit(small_prepared / rec.hr))[None, None]
    with torch.no_grad():
        torch.testing.assert_close(z["hr"], vae.encode(to_model_input(x, vae))[0], rtol=1e-5, atol=1e-5)
    train = [r.id for r in records if r.split == "train"]
    all_hr = torch.stack([latents[i]["hr"] for i in train])
    stats = info["stats"]
    assert stats["split"] == "train" and stats["ids"] == len(train)
    np.testing.assert_allclose(stats["hr"]["mean"], all_hr.double().mean((0, 2, 3)).numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(stats["hr"]["std"], all_hr.double().std((0, 2, 3), unbiased=False).numpy(), rtol=1e-5)


def test_latent_dataset_crops_are_aligned(tmp_path, small_prepared):
    encode_dataset(small_prepared, tmp_path / "cache", tiny_vae(), "kl-f4", batch_size=12, progress=False)
    full = load_latents(tmp_path / "cache")
    ds = LatentPairDataset(tmp_path / "cache", split="train", crop=8)
    assert len(ds) == 6
    torch.manual_seed(3)
    for i in range(len(ds)):
        item = ds[i]
        z = full[item["id"]]
        assert item["hr"].shape == (3, 8, 8) and item["lr"].shape == (3, 2, 2) and item["lr_up"].shape == (3, 8, 8)
        hits = [(t, c) for t in range(0, 9, 4) for c in range(0, 9, 4)
                if torch.equal(z["hr"][:, t : t + 8, c : c + 8], item["hr"])]
        assert hits, "HR crop is not at a multiple of the scale"
        t, c = hits[0]
        assert torch.equal(z["lr"][:, t // 4 : t // 4 + 2, c // 4 : c // 4 + 2], item["lr"])
        assert torch.equal(z["lr_up"][:, t : t + 8, c : c + 8], item["lr_up"])
    norm = LatentPairDataset(tmp_path / "cache", split="val", normalize=True)
    assert len(norm) == 3 and norm[0]["hr"].shape == (3, 16, 16)


def test_image_dataset_crops_are_aligned(small_prepared):
    ds = PairedImageDataset(small_prepared, split="train", crop=32, vae_factor=4)
    assert ds.scale == 4 and ds.step == 16
    from zoo.data import load_unit

    for i in range(len(ds)):
        item = ds[i]
        rec = ds.records[i]
        hr, lr = load_unit(small_prepared / rec.hr), load_unit(small_prepared / rec.lr)
        hits = [(t, c) for t in (0, 16, 32) for c in (0, 16, 32)
                if np.array_equal(hr[t : t + 32, c : c + 32], item["hr"][0].numpy())]
        assert hits
        t, c = hits[0]
        np.testing.assert_array_equal(lr[t // 4 : t // 4 + 8, c // 4 : c // 4 + 8], item["lr"][0].numpy())
    with pytest.raises(ValueError, match="multiple of scale x VAE factor"):
        PairedImageDataset(small_prepared, crop=24, vae_factor=4)
    assert len(PairedImageDataset(small_prepared, split="test")) == 3


def _keys(cache):
    keys = []
    for shard in shard_files(cache):
        with safe_open(str(shard), framework="pt") as fh:
            keys.extend(fh.keys())
    return keys


@pytest.mark.slow
def test_encode_resumes_after_sigkill(tmp_path):
    data = tmp_path / "data"  # the 31 bundled MNI slices at 64 -> 16
    prepare(sample_paths("slices", "mni152"), data, PrepareConfig(size=64, scale=4, subject_from="parent"))
    n = len(read_manifest(data))
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-m", "zoo", "encode", "--data", str(data), "--vae", "kl-f4", "--untrained",
           *TINY_ARGS, "--out", str(cache), "--batch-size", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((cache / "shards").glob("shard-*.safetensors"))) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(shard_files(cache))
    assert 3 <= done_before < n, "the run finished before it could be killed"
    assert not json.loads((cache / "cache.json").read_text())["complete"]
    first_shards = {p.name: p.read_bytes() for p in shard_files(cache)}
    result = subprocess.run(cmd + ["--json"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["complete"] and info["count"] == n and info["weights_sha256"] == "untrained"
    keys = _keys(cache)
    assert len(keys) == len(set(keys)) == 3 * n  # every id exactly once: nothing redone
    for name, blob in first_shards.items():  # finished shards untouched
        assert (cache / "shards" / name).read_bytes() == blob
    reference = encode_dataset(data, tmp_path / "ref", tiny_vae(), "kl-f4", batch_size=16, progress=False,
                               vae_overrides=TINY)
    assert reference["complete"]
    got, want = load_latents(cache), load_latents(tmp_path / "ref")
    for rid in want:
        for key in ("hr", "lr", "lr_up"):
            torch.testing.assert_close(got[rid][key], want[rid][key], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(info["stats"]["hr"]["mean"], reference["stats"]["hr"]["mean"], rtol=1e-4, atol=1e-5)


def test_encode_cli_refuses_a_different_cache(tmp_path, small_prepared):
    from click.testing import CliRunner

    from zoo.cli import main

    base = ["encode", "--data", str(small_prepared), "--out", str(tmp_path / "c"), "--vae", "kl-f4", "--untrained"]
    ok = CliRunner().invoke(main, base + TINY_ARGS)
    assert ok.exit_code == 0, ok.output
    other = CliRunner().invoke(main, base + ["--override", "block_out_channels=[4,4,4]", "--override",
                                             "layers_per_block=1", "--override", "norm_num_groups=4"])
    assert other.exit_code == 2 and "cache was made with different vae_overrides" in other.output
    both = CliRunner().invoke(main, base + ["--weights", "x.safetensors"])
    assert both.exit_code == 2 and "exclude each other" in both.output
