"""Checks and folders shared by the command-line tests of several suites."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def one_error_line(res: Any, *words: str, prog: str = "zoo") -> str:
    """A click result that failed as zoo promises: exit code 2, one ``PROG: error:`` line on stderr naming
    ``words``, no traceback; returns that line."""
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error:"), res.stderr
    assert "Traceback" not in res.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def save_tiny_pipeline(folder: Path) -> Path:
    """A saved pipeline folder: narrowed zoo-demo-f4 VAE + tiny UNet, random weights, 1-step DDIM."""
    import zoo

    pipe = zoo.build_pipeline(
        vae="zoo-demo-f4", denoiser="unet", sampler="ddim", steps=1, scale=4, pretrained=False,
        conditioning="bicubic-latent", residual=True, hr_size=64,
        vae_config={"block_out_channels": [8, 8, 16], "norm_num_groups": 4},
        denoiser_config={"preset": "tiny"},
    )
    pipe.save_pretrained(folder)
    return folder
