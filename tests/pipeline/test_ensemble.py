"""Self-ensemble (zoo.ops.ensemble): the dihedral transforms, and the agreement gate on real upsamplers."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from zoo.ops.ensemble import COUNTS, dihedral, self_ensemble, undo_dihedral


def bicubic(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)


def lr_batch() -> torch.Tensor:
    return torch.rand(2, 1, 12, 20, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("k", range(8))
def test_undo_inverts_each_transform_on_a_non_square_batch(k: int) -> None:
    x = lr_batch()
    y = dihedral(x, k)
    assert y.shape[-2:] == (x.shape[-2:] if k < 4 else x.shape[-2:][::-1])
    assert torch.equal(undo_dihedral(y, k), x)


def test_the_eight_transforms_are_distinct() -> None:
    x = lr_batch()[:, :, :8, :8]
    assert len({tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}) == 8


def test_count_one_is_the_plain_run() -> None:
    x = lr_batch()
    assert torch.equal(self_ensemble(bicubic, x, 1), bicubic(x))


@pytest.mark.parametrize("count", COUNTS[1:])
def test_detail_every_transform_agrees_on_is_kept(count: int) -> None:
    """An equivariant SR (bicubic plus a sharpening of it) gives the same image under every transform."""

    def sharpen(x: torch.Tensor) -> torch.Tensor:
        up = bicubic(x)
        blur = F.avg_pool2d(F.pad(up, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        return (up + 0.5 * (up - blur)).clamp(0, 1)

    x = lr_batch()
    assert torch.allclose(self_ensemble(sharpen, x, count), sharpen(x), atol=1e-5)


def test_detail_that_depends_on_orientation_is_shrunk_to_the_reference() -> None:
    """A model that paints a fixed pattern in its own frame (not the image's) disagrees with itself."""
    pattern = 0.2 * torch.sin(torch.arange(80.0) * 0.7)[None, :] * torch.linspace(-1, 1, 80)[:, None]

    def painter(x: torch.Tensor) -> torch.Tensor:
        up = bicubic(x)
        h, w = up.shape[-2:]
        canvas = pattern[None, None, :h, :w]
        return (up + canvas).clamp(0, 1)

    x = torch.full((1, 1, 12, 20), 0.5)
    plain = (painter(x) - bicubic(x)).abs().mean()
    gated = (self_ensemble(painter, x, 8) - bicubic(x)).abs().mean()
    assert gated < 0.2 * plain


def test_output_keeps_shape_dtype_and_range() -> None:
    x = lr_batch()
    out = self_ensemble(lambda t: bicubic(t) + 0.3, x, 8, rows=7)
    assert out.shape == (2, 1, 48, 80) and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_a_count_outside_the_group_is_refused() -> None:
    with pytest.raises(ValueError, match="one of"):
        self_ensemble(bicubic, lr_batch(), 3)


def test_the_banded_gate_equals_the_whole_image_gate() -> None:
    x = lr_batch()

    def noisy(t: torch.Tensor) -> torch.Tensor:  # orientation-dependent detail: the gate has work to do
        up = bicubic(t)
        return (up + 0.05 * torch.rand(up.shape, generator=torch.Generator().manual_seed(t.shape[-1]))).clamp(0, 1)

    assert torch.allclose(self_ensemble(noisy, x, 8, rows=5), self_ensemble(noisy, x, 8), atol=1e-6)


def test_bicubic_upsample_matches_pil() -> None:
    import numpy as np

    from zoo.data.degradations import pil_resize
    from zoo.ops.resample import bicubic_upsample

    image = np.random.default_rng(1).random((13, 21)).astype(np.float32)
    for factor in (2, 3, 4):
        ours = bicubic_upsample(torch.from_numpy(image)[None, None], factor)[0, 0].numpy()
        assert np.abs(ours - pil_resize(image, (13 * factor, 21 * factor), "bicubic")).max() < 1e-5


@pytest.mark.parametrize("batch_pixels", [1, 2 * 12 * 20 * 3, 10**6])
def test_batching_the_transforms_does_not_change_the_result(batch_pixels: int) -> None:
    calls: list[int] = []

    def counted(t: torch.Tensor) -> torch.Tensor:
        calls.append(t.shape[0])
        return (bicubic(t) + 0.1 * torch.sin(40 * bicubic(t))).clamp(0, 1)

    x = lr_batch()
    out = self_ensemble(counted, x, 8, batch_pixels=batch_pixels)
    assert sum(calls) == 8 * x.shape[0] and max(calls) <= max(x.shape[0], batch_pixels // (12 * 20))
    assert torch.allclose(out, self_ensemble(counted, x, 8, batch_pixels=1), atol=1e-6)


# --- in the pipeline ---------------------------------------------------------------------------


def test_the_option_is_saved_loaded_and_overridable_per_call(tmp_path) -> None:
    import zoo
    from tests.pipeline.conftest import tiny_pipeline

    torch.manual_seed(0)
    pipe = tiny_pipeline("zoo-s2d-f4", conditioning="bicubic-latent", residual=True, pixel_skip=True,
                         self_ensemble=4)
    lr = torch.rand(1, 1, 24, 40, generator=torch.Generator().manual_seed(3))
    ensembled = pipe(lr, seed=0)
    plain = pipe(lr, seed=0, self_ensemble=1)
    assert ensembled.shape == plain.shape == (1, 1, 96, 160) and not torch.allclose(ensembled, plain)
    assert torch.equal(plain, zoo.SRPipeline(pipe.vae, pipe.denoiser, pipe.sampler,
                                             pipe.options.replace(self_ensemble=1))(lr, seed=0))
    pipe.save_pretrained(tmp_path / "run")
    again = zoo.load_pipeline(tmp_path / "run")
    assert again.options.self_ensemble == 4
    assert torch.allclose(again(lr, seed=0), ensembled, atol=1e-6)


def test_a_count_outside_the_group_is_refused_by_name() -> None:
    from tests.pipeline.conftest import tiny_pipeline
    from zoo.pipeline.config import PipelineConfigError

    with pytest.raises(PipelineConfigError, match="self_ensemble"):
        tiny_pipeline("zoo-s2d-f4", self_ensemble=3)
    with pytest.raises(ValueError, match="self_ensemble"):
        tiny_pipeline("zoo-s2d-f4")(torch.rand(1, 1, 8, 8), self_ensemble=True)


def _default():
    import zoo
    from zoo.assets import DEFAULT_PIPELINE_DIR

    return zoo.load_pipeline(DEFAULT_PIPELINE_DIR)


def _psnr_gain(sr: torch.Tensor, lr: torch.Tensor, hr: torch.Tensor) -> float:
    from zoo.evaluate.metrics import psnr
    from zoo.ops.resample import bicubic_upsample

    bicubic = bicubic_upsample(lr, 4).clamp(0, 1)[0, 0].double().numpy()
    ref = hr.double().numpy()
    return psnr(sr[0, 0].double().numpy(), ref) - psnr(bicubic, ref)


def test_the_default_does_no_harm_on_a_smooth_low_count_scan() -> None:
    """A Gaussian-smoothed Poisson phantom (nuclear-medicine-like, unlike any training image): the
    embedded default must not fall below bicubic; one run of the weights alone does not pass this bar."""
    from zoo.ops.consistency import lanczos_downsample

    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 256), torch.linspace(0, 1, 256), indexing="ij")
    phantom = torch.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05)
    phantom += 0.5 * torch.exp(-((xx - 0.3) ** 2 + (yy - 0.6) ** 2) / 0.005)
    counts = torch.poisson(phantom * 100, generator=g)[None, None]
    hr = F.conv2d(F.pad(counts, (6, 6, 6, 6), mode="reflect"), _gaussian(2.0, 6))
    hr = ((hr - hr.min()) / (hr.max() - hr.min()))[0, 0]
    lr = lanczos_downsample(hr[None, None], 4).clamp(0, 1)
    pipe = _default()
    assert _psnr_gain(pipe(lr, seed=0), lr, hr) > 0.3
    assert _psnr_gain(pipe(lr, seed=0, self_ensemble=1), lr, hr) < _psnr_gain(pipe(lr, seed=0), lr, hr)


def _gaussian(sigma: float, radius: int) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-x**2 / (2 * sigma**2))
    k = k / k.sum()
    return (k[:, None] * k[None, :])[None, None]


def test_the_default_beats_bicubic_on_every_held_out_chest_radiograph() -> None:
    """The modality where one run of the weights is level with bicubic (issue 14)."""
    from zoo.data.pngio import load_unit
    from zoo.evaluate.heldout import held_out

    pipe = _default()
    items = [item for item in held_out("test") if item.modality == "CR"]
    assert items
    for item in items:
        lr = torch.from_numpy(load_unit(item.lr).astype("float32"))[None, None]
        hr = torch.from_numpy(load_unit(item.hr).astype("float32"))
        assert _psnr_gain(pipe(lr, seed=0), lr, hr) > 0.05, item.id


def test_a_run_that_returns_an_expanded_view_is_not_written_to() -> None:
    """A 1-channel model feeding an RGB image returns its grey result expanded to 3 channels (a view)."""
    rgb = torch.rand(1, 3, 12, 20, generator=torch.Generator().manual_seed(2))

    def grey_model(t: torch.Tensor) -> torch.Tensor:
        return bicubic(t.mean(dim=1, keepdim=True)).expand(-1, 3, -1, -1)

    out = self_ensemble(grey_model, rgb, 8)
    assert out.shape == (1, 3, 48, 80)
    assert torch.equal(out, self_ensemble(lambda t: grey_model(t).contiguous(), rgb, 8))
