import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure
from torchmetrics.functional.image import peak_signal_noise_ratio as tm_psnr
from torchmetrics.image import MultiScaleStructuralSimilarityIndexMeasure

from zoo.evaluate import metrics
from zoo.evaluate.images import read_image

from .helpers import save_png16, smooth_image


@pytest.fixture
def pair():
    rng = np.random.default_rng(1)
    ref = smooth_image(rng, 64)[:, :60]  # non-square on purpose
    pred = np.clip(ref + 0.07 * rng.standard_normal(ref.shape), 0, 1)
    return pred, ref


def test_psnr_matches_skimage_and_torchmetrics(pair):
    pred, ref = pair
    ours = metrics.psnr(pred, ref)
    assert ours == pytest.approx(peak_signal_noise_ratio(ref, pred, data_range=1.0), abs=1e-6)
    tm = tm_psnr(torch.from_numpy(pred)[None, None], torch.from_numpy(ref)[None, None], data_range=1.0)
    assert ours == pytest.approx(float(tm), rel=1e-7)  # torchmetrics divides by a float32 log(10)
    assert metrics.psnr(ref, ref) == math.inf


@pytest.mark.parametrize("gaussian", [False, True])
def test_ssim_matches_skimage(pair, gaussian):
    pred, ref = pair
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False) if gaussian else {}
    expected, expected_map = structural_similarity(ref, pred, data_range=1.0, full=True, **kwargs)
    assert metrics.ssim(pred, ref, gaussian=gaussian) == pytest.approx(expected, abs=1e-6)
    np.testing.assert_allclose(metrics.ssim(pred, ref, gaussian=gaussian, full=True), expected_map, atol=1e-6)


def test_ms_ssim_matches_torchmetrics_paper_default():
    rng = np.random.default_rng(2)
    ref = smooth_image(rng, 192)
    pred = np.clip(ref + 0.05 * rng.standard_normal(ref.shape), 0, 1)
    expected = MultiScaleStructuralSimilarityIndexMeasure(data_range=1.0)(
        torch.from_numpy(pred)[None, None], torch.from_numpy(ref)[None, None])
    assert metrics.ms_ssim_scales(192, 192) == 5
    assert metrics.ms_ssim(pred, ref) == pytest.approx(float(expected), abs=1e-6)


def test_ms_ssim_small_images_use_fewer_renormalised_scales(pair):
    pred, ref = pair
    assert metrics.ms_ssim_scales(*ref.shape) == 3
    betas = np.array(metrics.MS_SSIM_BETAS[:3]) / sum(metrics.MS_SSIM_BETAS[:3])
    expected = multiscale_structural_similarity_index_measure(
        torch.from_numpy(pred)[None, None], torch.from_numpy(ref)[None, None], data_range=1.0, betas=tuple(betas))
    assert metrics.ms_ssim(pred, ref) == pytest.approx(float(expected), abs=1e-6)
    assert metrics.ms_ssim(ref, ref) == pytest.approx(1.0, abs=1e-6)
    assert math.isnan(metrics.ms_ssim(pred[:16, :16], ref[:16, :16]))


def test_masked_metrics(pair):
    pred, ref = pair
    mask = np.zeros(ref.shape)
    mask[10:30, 20:40] = 1
    region = (slice(10, 30), slice(20, 40))
    expected = 10 * math.log10(1 / np.mean((pred[region] - ref[region]) ** 2))
    assert metrics.masked_psnr(pred, ref, mask) == pytest.approx(expected, abs=1e-9)
    _, smap = structural_similarity(ref, pred, data_range=1.0, full=True)
    full_mask = np.ones(ref.shape)
    assert metrics.masked_ssim(pred, ref, full_mask) == pytest.approx(smap.mean(), abs=1e-9)
    assert math.isnan(metrics.masked_psnr(pred, ref, np.zeros(ref.shape)))


def test_lpips_gives_a_clear_error_without_torchvision(pair):
    import importlib.util

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here")
    with pytest.raises(metrics.LPIPSUnavailableError, match="torchvision"):
        metrics.lpips(*pair)


def test_read_image_scales_by_dtype(tmp_path):
    from PIL import Image

    img = smooth_image(np.random.default_rng(3), 32)
    save_png16(tmp_path / "a16.png", img)
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(tmp_path / "a8.png")
    rgb = np.repeat(np.round(img * 255).astype(np.uint8)[..., None], 3, axis=2)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    a16, a8 = read_image(tmp_path / "a16.png"), read_image(tmp_path / "a8.png")
    assert a16.dtype == np.float64 and 0 <= a16.min() and a16.max() <= 1
    np.testing.assert_allclose(a16, img, atol=1 / 65535)
    np.testing.assert_allclose(a8, img, atol=1 / 255)
    np.testing.assert_allclose(read_image(tmp_path / "rgb.png"), a8, atol=1e-12)
    import tifffile

    tifffile.imwrite(tmp_path / "a16.tif", np.round(img * 65535).astype(np.uint16))
    np.testing.assert_allclose(read_image(tmp_path / "a16.tif"), a16, atol=1e-12)
