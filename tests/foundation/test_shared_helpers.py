"""The one copy of each small helper: a folder's sha256 fingerprint, the state-dict unwrap, the seed list."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from zoo.samplers.noise import generators_for, seed_list
from zoo.weights import folder_fingerprint, load_state_dict, unwrap_state_dict


def test_a_folder_fingerprint_is_the_sha256_of_each_file(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.json").write_bytes(b"{}")
    (tmp_path / "sub" / "w.bin").write_bytes(bytes(range(256)) * 5000)
    prints = folder_fingerprint(tmp_path)
    assert list(prints) == ["a.json", "sub/w.bin"]
    assert prints["sub/w.bin"] == hashlib.sha256((tmp_path / "sub" / "w.bin").read_bytes()).hexdigest()[:16]
    assert len(folder_fingerprint(tmp_path, digits=64)["a.json"]) == 64


def test_a_lightning_checkpoint_is_unwrapped_and_a_state_dict_is_not(tmp_path) -> None:
    tensors = {"w": torch.ones(2)}
    assert unwrap_state_dict({"state_dict": tensors, "epoch": 3}) is tensors
    assert unwrap_state_dict(tensors) is tensors
    torch.save({"state_dict": tensors, "global_step": 1}, tmp_path / "run.ckpt")
    save_file(tensors, tmp_path / "plain.safetensors")
    for name in ("run.ckpt", "plain.safetensors"):
        assert list(load_state_dict(tmp_path / name)) == ["w"]


def test_one_seed_per_image() -> None:
    assert seed_list(5, 3) == [5, 6, 7] and seed_list(np.int64(2), 2) == [2, 3]
    assert seed_list((9, 1), 2) == [9, 1]
    with pytest.raises(ValueError, match="got 2 seeds for 3 images"):
        seed_list([1, 2], 3)
    a, b = generators_for(4, 2)
    assert torch.equal(torch.randn(3, generator=b), torch.randn(3, generator=torch.Generator().manual_seed(5)))
    assert a.initial_seed() == 4
