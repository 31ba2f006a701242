"""End-to-end training runs on a tiny autoencoder: results, logs, resume, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.train.helpers import tiny_autoencoder_config
from zoo.train.checkpoint import checkpoint_path
from zoo.train.config import config_from_dict
from zoo.train.logs import read_metrics
from zoo.train.loop import train


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_tiny_run_writes_a_loadable_autoencoder_and_logs(prepared: Path, tmp_path: Path) -> None:
    cfg = config_from_dict(tiny_autoencoder_config(prepared, tmp_path / "run"))
    result = train(cfg, progress=False)
    from zoo.autoencoders.loading import autoencoder_from_path
    from zoo.factory import build_autoencoder

    ae = autoencoder_from_path(result)
    assert ae.card.name == "tiny-ae" and ae.card.weights is None
    from zoo.assets import ZOO_DEMO_F4

    assert ae.downsample_factor == 4 and ae.latent_channels == ZOO_DEMO_F4.latent_channels
    # the saved weights are the EMA weights, not the untrained init
    init = build_autoencoder("zoo-demo-f4", pretrained=False, block_out_channels=[8, 8, 16], norm_num_groups=4)
    pairs = zip(ae.state_dict().values(), init.state_dict().values(), strict=True)
    assert any(not torch.equal(p, q) for p, q in pairs)
    rows = read_metrics(tmp_path / "run" / "logs")
    assert [r["step"] for r in rows if r["key"] == "loss"] == [1, 2, 3, 4]
    assert [r["step"] for r in rows if r["key"] == "val_psnr"] == [2, 4]
    state = json.loads((checkpoint_path(tmp_path / "run") / "state.json").read_text())
    assert state["step"] == 4


def test_resume_matches_an_uninterrupted_run(prepared: Path, tmp_path: Path) -> None:
    raw = tiny_autoencoder_config(prepared, tmp_path / "full", max_steps=6, grad_accum=2)
    train(config_from_dict(raw), progress=False)
    split = {**raw, "output": str(tmp_path / "split")}
    train(config_from_dict(split), progress=False, stop_at=3)
    assert not (tmp_path / "split" / "autoencoder").exists()
    assert json.loads((checkpoint_path(tmp_path / "split") / "state.json").read_text())["step"] == 3
    train(config_from_dict(split), resume=True, progress=False)
    for name in ("model.safetensors", "ema.safetensors"):
        _assert_same(_tensors(checkpoint_path(tmp_path / "full") / name),
                     _tensors(checkpoint_path(tmp_path / "split") / name))
    _assert_same(_tensors(tmp_path / "full" / "autoencoder" / "autoencoder.safetensors"),
                 _tensors(tmp_path / "split" / "autoencoder" / "autoencoder.safetensors"))
    # the log of the resumed run has each step once
    steps = [r["step"] for r in read_metrics(tmp_path / "split" / "logs") if r["key"] == "loss"]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_resume_refuses_a_changed_config(prepared: Path, tmp_path: Path) -> None:
    from zoo.train.config import ConfigError

    raw = tiny_autoencoder_config(prepared, tmp_path / "run")
    train(config_from_dict(raw), progress=False, stop_at=2)
    raw["optim"]["lr"] = 5e-4
    with pytest.raises(ConfigError, match="different config"):
        train(config_from_dict(raw), resume=True, progress=False)


def _zoo(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "zoo", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_result(prepared: Path, tmp_path: Path) -> None:
    steps = 40
    raw = tiny_autoencoder_config(prepared, tmp_path / "ref", max_steps=steps, ckpt_every=1, val_every=1000)
    (tmp_path / "ref.json").write_text(json.dumps(raw))
    (tmp_path / "run.json").write_text(json.dumps({**raw, "output": str(tmp_path / "run")}))
    ref = _zoo(["train", "--config", str(tmp_path / "ref.json"), "--no-progress"])
    victim = _zoo(["train", "--config", str(tmp_path / "run.json"), "--no-progress"])
    state = checkpoint_path(tmp_path / "run") / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline and victim.poll() is None:
        if state.exists() and json.loads(state.read_text())["step"] >= 3:
            break
        time.sleep(0.02)
    assert victim.poll() is None, "the run ended before it could be killed:\n" + victim.stdout.read()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = json.loads(state.read_text())["step"]
    assert 3 <= killed_at < steps
    assert not (tmp_path / "run" / "autoencoder").exists()
    resumed = _zoo(["train", "--config", str(tmp_path / "run.json"), "--no-progress", "--resume"])
    out = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, out
    assert f"resuming {tmp_path / 'run'} at step {killed_at}/{steps}" in out
    assert ref.wait(timeout=300) == 0, ref.stdout.read()
    _assert_same(_tensors(tmp_path / "ref" / "autoencoder" / "autoencoder.safetensors"),
                 _tensors(tmp_path / "run" / "autoencoder" / "autoencoder.safetensors"))
