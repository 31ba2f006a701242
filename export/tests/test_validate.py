"""The fixed probe chain of the end-to-end check (used for exports without ``pipeline.json``)."""

from __future__ import annotations

import torch
from export_helpers import small_pipeline
from zoo_export.stages import stage_modules
from zoo_export.validate import TorchStages, compare_end_to_end, probe_images, probe_sr


class _Drifting(TorchStages):
    """The PyTorch stages with a decoder that is off by a constant: what a broken export looks like."""

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return super().decode(z) + 0.05


def test_the_probe_passes_the_same_stages_and_catches_a_drifting_decoder() -> None:
    pipe = small_pipeline()
    modules = stage_modules(pipe.vae.eval(), pipe.denoiser.eval())
    geometry = pipe.geometry(32)
    hr, lr = probe_images(geometry)
    sr = probe_sr(TorchStages(modules), lr, geometry)
    assert sr.shape == hr.shape and torch.isfinite(sr).all()
    same = compare_end_to_end(TorchStages(modules), TorchStages(modules), geometry, "fp32")
    assert same["passed"] and same["delta_psnr_db"] == 0 and same["how"] == "probe"
    drift = compare_end_to_end(TorchStages(modules), _Drifting(modules), geometry, "fp32")
    assert not drift["passed"] and drift["delta_psnr_db"] > drift["tolerance_db"]
