"""TensorRT code paths that need no GPU: the CUDA guard, engine-target checks, profiles."""

from __future__ import annotations

import pytest
import torch
from zoo_export.trt import (
    EngineMismatchError,
    TensorRTUnavailable,
    check_engine_compatible,
    import_tensorrt,
    stage_profile,
)

from zoo.ops.geometry import Geometry


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_tensorrt_is_never_imported_without_cuda() -> None:
    import sys

    with pytest.raises(TensorRTUnavailable, match="CUDA"):
        import_tensorrt()
    assert "tensorrt" not in sys.modules


def test_profiles_follow_batch_range_and_sizes() -> None:
    g = Geometry(in_channels=3, latent_channels=4, downsample_factor=8, hr_size=256, scale=4)
    assert stage_profile("encoder", g, (1, 2, 8)) == {"x": [[1, 3, 64, 64], [2, 3, 64, 64], [8, 3, 64, 64]]}
    den = stage_profile("denoiser", g, (1, 1, 4))
    assert den["t"] == [[1], [1], [4]] and den["cond"][2] == [4, 4, 32, 32]
    assert stage_profile("decoder", g, (2, 2, 2)) == {"z": [[2, 4, 32, 32]] * 3}


def test_engine_for_another_gpu_is_refused() -> None:
    engine = {"file": "denoiser/model.plan", "tensorrt_version": "10.13.0.35", "gpu_name": "NVIDIA A100-SXM4-80GB",
              "compute_capability": "8.0"}
    here = {"tensorrt_version": "10.13.0.35", "gpu_name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
    with pytest.raises(EngineMismatchError, match="compute capability '8.0'") as err:
        check_engine_compatible(engine, here)
    assert "rebuild" in str(err.value)
    check_engine_compatible({**engine, **here}, here)  # same target: accepted
    with pytest.raises(EngineMismatchError, match="tensorrt version"):
        check_engine_compatible({**engine, **here, "tensorrt_version": "11.4.0.106"}, here)
