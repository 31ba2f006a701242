"""zoo.weights: sources, hub spec parsing, offline cache, sha256 and safe loading."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from zoo.weights import HFSource, WeightsError, cached_path, load_state_dict, parse_hf, resolve, sha256_file


class _CreatesFile:
    """Unpickling this calls ``open(target, "w")``: a pickle that runs code."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_parse_hf():
    assert parse_hf("hf:stanfordmimi/MedVAE/model_weights/vae_4x_1c_2D.ckpt@041f23d") == HFSource(
        "stanfordmimi/MedVAE", "model_weights/vae_4x_1c_2D.ckpt", "041f23d")
    assert parse_hf("hf:stabilityai/sd-vae-ft-ema") == HFSource("stabilityai/sd-vae-ft-ema")
    assert str(parse_hf("hf:a/b/c.ckpt@main")) == "hf:a/b/c.ckpt@main"
    for bad in ("hf:onlyowner", "hf:a/b@", "a/b"):
        with pytest.raises(ValueError, match="hf:owner/repo"):
            parse_hf(bad)


def test_pickle_with_code_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "x": _CreatesFile(str(target))}, evil)
    with pytest.raises(WeightsError, match="refusing to load .*evil.ckpt"):
        load_state_dict(evil)
    assert not target.exists()
    # the same file loaded unsafely would create it: the test can fail
    torch.load(evil, weights_only=False)["x"].close()
    assert target.exists()


def test_load_state_dict_formats(tmp_path):
    sd = {"a.weight": torch.randn(3, 2), "b": torch.arange(4)}
    save_file(sd, str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": sd, "epoch": 1}, tmp_path / "w.ckpt")
    torch.save(sd, tmp_path / "w.pt")
    for name in ("w.safetensors", "w.ckpt", "w.pt"):
        out = load_state_dict(tmp_path / name)
        assert out.keys() == sd.keys() and all(torch.equal(out[k], sd[k]) for k in sd)
    torch.save({"a": torch.zeros(1), "n": 3}, tmp_path / "mixed.pt")
    with pytest.raises(WeightsError, match="not tensors: n"):
        load_state_dict(tmp_path / "mixed.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="junk.safetensors"):
        load_state_dict(tmp_path / "junk.safetensors")


def test_missing_file_and_sha256(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        resolve(tmp_path / "nope.ckpt")
    path = tmp_path / "w.pt"
    torch.save({"a": torch.ones(2)}, path)
    digest = sha256_file(path)
    assert resolve(path, sha256=digest) == path
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_state_dict(path, sha256="0" * 64)


def test_hub_source_offline_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    source = "hf:someone/some-vae/vae.safetensors"
    assert cached_path(source) is None
    with pytest.raises(WeightsError, match="not in the cache .* offline"):
        resolve(source)
    # a file placed in the hub cache layout is found without network
    snap = tmp_path / "home" / "hf" / "models--someone--some-vae"
    (snap / "refs").mkdir(parents=True)
    (snap / "refs" / "main").write_text("0" * 40)
    (snap / "snapshots" / ("0" * 40)).mkdir(parents=True)
    save_file({"w": torch.ones(2)}, str(snap / "snapshots" / ("0" * 40) / "vae.safetensors"))
    assert torch.equal(load_state_dict(source)["w"], torch.ones(2))
