"""An unreachable hub fails fast and in one short line (issue #26, point 9): found once per process, no retries
per file, naming the weights and suggesting HF_HUB_OFFLINE=1 or --weights. The hub endpoint is a closed local
port (connection refused), so the test is the same with or without network."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from zoo.data.samples import prepared_samples

ROOT = Path(__file__).resolve().parents[2]
MEDVAE = "hf:stanfordmimi/MedVAE/model_weights"
SOURCES = [f"{MEDVAE}/vae_4x_1c_2D.ckpt", f"{MEDVAE}/vae_4x_3c_2D.ckpt", "hf:stabilityai/sd-vae-ft-ema"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    paths = [str(ROOT), str(ROOT / "export"), env.get("PYTHONPATH", "")]
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_CACHE=str(tmp_path / "hub"), ZOO_HUB_TIMEOUT="2",
               PYTHONPATH=os.pathsep.join(p for p in paths if p))
    return env


def test_unreachable_hub_fails_fast_in_one_short_line_per_source(tmp_path):
    code = f"""
import time
from zoo.weights import HubUnreachableError, resolve
start = time.monotonic()
for source in {SOURCES!r}:
    try:
        resolve(source)
    except HubUnreachableError as err:
        print(str(err))
print(f"elapsed {{time.monotonic() - start:.1f}}")
"""
    run = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    *messages, elapsed = run.stdout.strip().splitlines()
    assert len(messages) == len(SOURCES)
    for source, message in zip(SOURCES, messages, strict=True):
        assert message.startswith(source) and len(message) < 200, message
        assert "unreachable" in message and "HF_HUB_OFFLINE=1" in message and "--weights PATH" in message
    assert float(elapsed.split()[1]) < 5.0, elapsed  # one refused connection, no retries per file


def test_screen_with_an_unreachable_hub_is_one_line_and_exit_2(tmp_path):
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "zoo", "screen", "--data", str(prepared_samples()), "--vae", "medvae-*,sd-vae",
         "--limit", "1", "--out", str(tmp_path / "report")],
        env=_env(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 200, run.stderr
    assert "hub is unreachable" in lines[0] and "HF_HUB_OFFLINE=1" in lines[0] and "--weights" in lines[0]
    assert time.monotonic() - start < 90  # before: ~23 s of retries per VAE, six VAEs
    assert not (tmp_path / "report").exists() or not any((tmp_path / "report").iterdir())
