"""The uncertainty map (zoo.ops.uncertainty, ``pipe(..., uncertainty=True)``): shape, units, tiles, calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.errors import ZooError
from zoo.ops.uncertainty import FEATURES, UncertaintyError, uncertainty_map
from zoo.pipeline.config import PipelineConfig, PipelineConfigError
from zoo.pipeline.saved import PIPELINE_FILE

from .conftest import local_pipeline, tiny_pipeline

SAMPLE_LR = Path(zoo.__file__).resolve().parent / "assets" / "samples" / "prepared" / "lr" / "nema-ct-small_full.png"


@pytest.fixture(scope="module")
def default_pipe():
    from zoo.assets import DEFAULT_PIPELINE_DIR

    return zoo.load_pipeline(DEFAULT_PIPELINE_DIR)


@pytest.fixture(scope="module")
def local_pipe():
    """A local denoiser (exact tiles) on the lossless first stage, as in test_tiling."""
    return local_pipeline(data_consistency=2)


def sample_lr(size: int = 32) -> np.ndarray:
    """A crop of a bundled LR slice (uint16)."""
    from zoo.data.readers import read_image

    return read_image(SAMPLE_LR).array[16 : 16 + size, 16 : 16 + size]


def test_the_map_has_the_sr_shape_and_the_output_units(default_pipe) -> None:
    lr = sample_lr()
    (sr,), (error,) = default_pipe([lr], uncertainty=True, progress=False)
    assert error.shape == sr.shape == (128, 128) and error.dtype == np.float32 and (error >= 0).all()
    np.testing.assert_array_equal(sr, default_pipe([lr], progress=False)[0])  # the SR does not change
    unit = torch.from_numpy((lr.astype(np.float32) - lr.min()) / float(lr.max() - lr.min()))[None, None]
    sr_t, error_t = default_pipe(unit, uncertainty=True, progress=False)
    assert error_t.shape == sr_t.shape == (1, 1, 128, 128) and error_t.dtype == torch.float32
    # arrays: the same map in the input's units (its min..max span per unit of the tensor map)
    np.testing.assert_allclose(error, error_t[0, 0].numpy() * float(lr.max() - lr.min()), rtol=1e-4, atol=1e-2)
    assert 0 < float(error_t.mean()) < 0.2


def test_rgb_arrays_keep_their_layout(default_pipe) -> None:
    lr = np.stack([sample_lr(16)] * 3, axis=-1)  # two seeds, one orientation (RGB ensembles: issue 26)
    (sr,), (error,) = default_pipe([lr], uncertainty=True, progress=False, self_ensemble=1, uncertainty_samples=2)
    assert error.shape == sr.shape == (64, 64, 3)


def test_one_orientation_and_one_sample_is_one_error_naming_the_options(default_pipe) -> None:
    with pytest.raises(UncertaintyError) as err:
        default_pipe([sample_lr(16)], uncertainty=True, self_ensemble=1, progress=False)
    message = str(err.value)
    assert isinstance(err.value, ZooError) and "\n" not in message
    assert "self_ensemble" in message and "uncertainty_samples" in message


def test_seeds_give_a_map_without_the_ensemble() -> None:
    pipe = tiny_pipeline("medvae-4-3", "unet", "ddpm")  # stochastic: seeds differ
    lr = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    plain = pipe(lr, seed=3, progress=False, self_ensemble=1)
    sr, error = pipe(lr, seed=3, progress=False, self_ensemble=1, uncertainty=True, uncertainty_samples=3)
    torch.testing.assert_close(sr, plain, atol=0, rtol=0)  # the SR is that of the first seed
    assert float(error.min()) >= 0 and float(error.mean()) > 0
    more = pipe(lr, seed=3, progress=False, self_ensemble=2, uncertainty=True, uncertainty_samples=2)[1]
    assert float(more.mean()) > 0


def test_tiled_map_equals_the_whole_image_map(local_pipe) -> None:
    lr = torch.rand(1, 1, 64, 72, generator=torch.Generator().manual_seed(1))  # HR 256 x 288
    run = {"seed": 0, "progress": False, "self_ensemble": 2, "uncertainty": True}
    with torch.inference_mode():
        sr, whole = local_pipe.super_resolve(lr, tile="off", **run)
        tiled_sr, tiled = local_pipe.super_resolve(lr, tile=128, **run)
    torch.testing.assert_close(tiled_sr, sr, atol=2e-4, rtol=0)
    torch.testing.assert_close(tiled, whole, atol=2e-4, rtol=0)
    assert float(whole.mean()) > 1e-3  # not trivially equal


def test_a_map_in_bands_equals_the_whole_map() -> None:
    from zoo.ops.resample import bicubic_upsample

    g = torch.Generator().manual_seed(2)
    lr = torch.rand(2, 1, 13, 10, generator=g)
    sr, spread, gate = (torch.rand(2, 1, 52, 40, generator=g) for _ in range(3))
    bicubic = bicubic_upsample(lr, 4).clamp(0, 1)
    weights = dict.fromkeys(FEATURES, 0.5)
    whole = uncertainty_map(sr, bicubic, spread, gate, weights, rows=512, lr=lr)
    for rows in (7, 16):  # bands, with the whole bicubic image or its rows computed band by band from the LR
        torch.testing.assert_close(uncertainty_map(sr, bicubic, spread, gate, weights, rows=rows, lr=lr), whole,
                                   atol=1e-6, rtol=0)
        torch.testing.assert_close(uncertainty_map(sr, None, spread, gate, weights, rows=rows, lr=lr), whole,
                                   atol=1e-6, rtol=0)


def test_the_weights_are_an_option_saved_and_loaded(tmp_path: Path) -> None:
    pipe = tiny_pipeline("medvae-4-1", steps=1)
    pipe.uncertainty_weights = {"spread": 2.0, "departure": 0.5}
    assert pipe.uncertainty_weights == {"spread": 2.0, "gate": 0.0, "departure": 0.5, "gradient": 0.0, "detail": 0.0,
                                        "sr_gradient": 0.0, "disputed": 0.0, "noise": 0.0}
    pipe.save_pretrained(tmp_path / "p")
    again = zoo.load_pipeline(tmp_path / "p")
    assert again.uncertainty_weights == pipe.uncertainty_weights
    data = json.loads((tmp_path / "p" / PIPELINE_FILE).read_text())
    data.pop("uncertainty_weights")  # a folder written before the option: loads, uncalibrated
    (tmp_path / "p" / PIPELINE_FILE).write_text(json.dumps(data))
    assert zoo.load_pipeline(tmp_path / "p").uncertainty_weights is None


@pytest.mark.parametrize(
    ("value", "message"),
    [({"spread": -1.0}, "pipeline options: uncertainty_weights: weights must be finite and >= 0"),
     ({"blur": 1.0}, "uncertainty_weights: unknown feature 'blur'"),
     ([1.0], "uncertainty_weights: expected a dict")],
)
def test_wrong_weights_are_one_error_naming_the_option(value: object, message: str) -> None:
    with pytest.raises(PipelineConfigError) as err:
        PipelineConfig(uncertainty_weights=value)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_embedded_default_carries_weights_fitted_on_val(default_pipe) -> None:
    weights = default_pipe.uncertainty_weights
    assert set(weights) == set(FEATURES) and sum(weights.values()) > 0


def _fit_script():
    """scripts/fit_uncertainty.py as a module."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "fit_uncertainty.py"
    spec = importlib.util.spec_from_file_location("fit_uncertainty", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fit_script_fits_on_val_and_stores_weights_that_load(tmp_path: Path, capsys) -> None:
    module = _fit_script()
    pipe = tiny_pipeline("medvae-4-1", steps=1, self_ensemble=2)
    pipe.save_pretrained(tmp_path / "p")
    assert module.main(["--pipeline", str(tmp_path / "p"), "--write"]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert printed["split"] == "val" and printed["images"] == ["nema-ct-small_full"]
    weights = zoo.load_pipeline(tmp_path / "p").uncertainty_weights
    assert weights == pytest.approx(printed["uncertainty_weights"], abs=1e-6) and sum(weights.values()) > 0
    with pytest.raises(SystemExit):  # the test split is what the report scores: refused
        module.main(["--pipeline", str(tmp_path / "p"), "--split", "test"])


def test_the_figures_of_a_map_that_knows_the_error() -> None:
    from zoo.evaluate.uncertainty import ImageParts, score

    rng = np.random.default_rng(0)
    hr = rng.random((40, 40))
    bicubic = hr + 0.01
    sr = hr + rng.normal(0, 0.02, hr.shape)
    image = ImageParts("x", "CT", hr, sr, bicubic, {})
    exact = score(image.error, image)
    assert exact["ratio"] == pytest.approx(1.0) and exact["spearman"] == pytest.approx(1.0)
    assert exact["lift"] > 2.0 and exact["auroc"] > 0.95
    blind = score(np.full(hr.shape, float(image.error.mean())), image)  # a constant map ranks nothing
    assert blind["ratio"] == pytest.approx(1.0) and blind["auroc"] == pytest.approx(0.5)


def test_the_per_pixel_terms_and_the_embedded_default_weights_one(default_pipe) -> None:
    from zoo.data.pngio import load_unit
    from zoo.ops.uncertainty import gradient_magnitude, local_mean

    lr = torch.from_numpy(load_unit(SAMPLE_LR).astype("float32"))[None, None]
    with torch.inference_mode():
        parts = default_pipe.uncertainty_parts(lr, seed=[0], progress=False)
    feats = parts.features()
    torch.testing.assert_close(feats["detail"], (parts.sr - parts.bicubic).abs())
    torch.testing.assert_close(feats["disputed"], torch.sqrt(feats["detail"] * feats["spread"]))
    torch.testing.assert_close(feats["sr_gradient"], local_mean(gradient_magnitude(parts.sr)))
    weights = default_pipe.uncertainty_weights
    assert weights["detail"] + weights["disputed"] > 0  # a term of the pixel itself: ranks "worse than bicubic"


def test_sr_gradient_marks_the_edges_the_output_draws_and_disputed_needs_departure_and_spread() -> None:
    from zoo.ops.uncertainty import features

    sr = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    sr[..., 16:] = 0.5  # a vertical edge the SR draws
    bicubic = sr.clone()
    bicubic[..., 4:8, 4:8] += 0.1  # the SR departs from bicubic here only
    spread = torch.zeros_like(sr)
    spread[..., :, 20:] = 0.04  # the orientations disagree here only, away from the departure
    feats = features(sr, bicubic, spread, None)
    assert float(feats["sr_gradient"][..., 10, 16]) > 0.05 and float(feats["sr_gradient"][..., 10, 4]) == 0.0
    assert float(feats["disputed"].abs().max()) == 0.0  # departure and spread never meet: nothing disputed
    spread[..., 4:8, 4:8] = 0.04
    feats = features(sr, bicubic, spread, None)
    assert float(feats["disputed"][..., 5, 5]) > 0.0 and float(feats["disputed"][..., 5, 12]) == 0.0


def _parts_with_error(detail: torch.Tensor, times: float, seed: int):
    """An ImageParts whose error is exactly ``times`` x its per-pixel departure |SR - bicubic| (= ``detail``)."""
    from zoo.evaluate.uncertainty import ImageParts
    from zoo.ops.uncertainty import features

    g = torch.Generator().manual_seed(seed)
    sr = 0.3 + 0.4 * torch.rand(1, 1, 48, 48, generator=g, dtype=torch.float64)
    bicubic = sr - detail
    feats = {k: v[0, 0].numpy() for k, v in features(sr, bicubic, torch.zeros_like(sr), None).items()}
    sign = torch.where(torch.rand(sr.shape, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0)
    hr = sr + sign * times * detail  # where the sign is -1 and the detail large, the SR is worse than bicubic
    return ImageParts(f"im{seed}", "synthetic", hr[0, 0].numpy(), sr[0, 0].numpy(), bicubic[0, 0].numpy(), feats)


def test_the_fit_centres_per_image_ratios_and_weights_what_predicts_the_error() -> None:
    from zoo.evaluate.uncertainty import RATIO_BAND, fit_weights, map_of

    g = torch.Generator().manual_seed(5)
    details = [0.1 * torch.rand(1, 1, 48, 48, generator=g, dtype=torch.float64) ** 4 for _ in range(2)]
    images = [_parts_with_error(d, t, k) for k, (d, t) in enumerate(zip(details, (1.0, 2.0), strict=True))]
    weights = fit_weights(images)
    assert weights["detail"] > 0 and weights["gate"] == 0
    low, high = sorted(map_of(im, weights).mean() / im.error.mean() for im in images)
    assert high / low == pytest.approx(2.0, rel=1e-6)  # one factor keeps the errors' 2x apart
    assert low / RATIO_BAND[0] == pytest.approx(RATIO_BAND[1] / high, rel=1e-6)  # equal room to both edges


def test_the_scale_puts_the_most_images_in_band_so_one_far_off_image_moves_no_other() -> None:
    from zoo.evaluate.uncertainty import RATIO_BAND, calibration_factor

    g = torch.Generator().manual_seed(8)
    details = [0.1 * torch.rand(1, 1, 48, 48, generator=g, dtype=torch.float64) ** 4 for _ in range(5)]
    times = (1.0, 1.0, 1.0, 1.0, 0.1)  # the last image's error is a tenth of what its map says
    images = [_parts_with_error(d, t, 30 + k) for k, (d, t) in enumerate(zip(details, times, strict=True))]
    maps = [im.features["detail"] for im in images]
    middle = np.sqrt(RATIO_BAND[0] * RATIO_BAND[1])  # four equal ratios: centred in the band (log scale)
    assert calibration_factor(maps, images) == pytest.approx(middle, rel=1e-9)  # the geometric mean would give 0.63


def test_band_shift_counts_the_largest_group_that_fits_and_centres_it() -> None:
    from zoo.evaluate.uncertainty import RATIO_BAND, band_shift

    lo, hi = np.log(RATIO_BAND)
    logs = np.array([0.0, 0.3, 0.5, 2.0, 2.1])  # 0 .. 0.5 fit in the band (0.81 wide); 2.0 and 2.1 are 2 only
    count, shift = band_shift(logs)
    assert count == 3
    assert shift + 0.0 - lo == pytest.approx(hi - (shift + 0.5))  # the same room below and above
    # a tie of two groups of two: the closer pair (5.0 .. 5.05) leaves more room, so it wins
    assert band_shift(np.array([0.0, 0.1, 5.0, 5.05])) == (2, pytest.approx(lo - 5.0 + (hi - lo - 0.05) / 2))
    assert band_shift(np.array([]))[0] == 0


def test_the_level_step_keeps_the_shapes_ranking() -> None:
    from zoo.evaluate.uncertainty import fit_level, fit_shape, map_of, ranking_figures

    g = torch.Generator().manual_seed(9)
    rng = np.random.default_rng(9)
    images = []
    for k, sigma in enumerate((0.0, 0.02, 0.05)):
        image = _parts_with_error(0.1 * torch.rand(1, 1, 48, 48, generator=g, dtype=torch.float64) ** 4, 1.0, 40 + k)
        image.hr = image.hr + rng.normal(0.0, sigma, image.hr.shape)
        image.features["noise"] = np.full_like(image.sr, sigma)
        images.append(image)
    shape = fit_shape(images)
    assert shape["noise"] == 0.0 and shape["detail"] > 0  # the shape ranks; the noise constant cannot
    weights = fit_level(shape, images)
    assert weights["noise"] > 0
    before = ranking_figures([map_of(im, shape) for im in images], images)
    after = ranking_figures([map_of(im, weights) for im in images], images)
    assert after == pytest.approx(before, rel=1e-6)


def test_the_scale_comes_from_the_unseen_images_when_given() -> None:
    from zoo.evaluate.uncertainty import RATIO_BAND, fit_weights, map_of

    g = torch.Generator().manual_seed(6)
    details = [0.1 * torch.rand(1, 1, 48, 48, generator=g, dtype=torch.float64) ** 4 for _ in range(3)]
    seen = [_parts_with_error(d, t, k) for k, (d, t) in enumerate(zip(details[:2], (1.0, 1.2), strict=True))]
    unseen = _parts_with_error(details[2], 3.0, 9)  # a new scan: three times the error of what the model saw
    weights = fit_weights(seen, scale_on=[unseen])
    middle = np.sqrt(RATIO_BAND[0] * RATIO_BAND[1])  # one image: centred in the band, about 1
    assert map_of(unseen, weights).mean() == pytest.approx(unseen.error.mean() * middle, rel=1e-6)
    assert all(map_of(im, weights).mean() > im.error.mean() for im in seen)


@pytest.mark.parametrize("scale", [2, 4])
def test_the_noise_level_is_the_lrs_noise_times_the_scale_and_ignores_edges_and_ramps(scale: int) -> None:
    from zoo.ops.uncertainty import noise_level

    g = torch.Generator().manual_seed(5)
    ramp = torch.linspace(0, 0.6, 96).view(1, 1, 1, 96).expand(2, 1, 96, 96).clone()
    ramp[..., 40:, :] += 0.3  # an edge across the image
    noisy = ramp + torch.tensor([0.01, 0.03]).view(2, 1, 1, 1) * torch.randn(2, 1, 96, 96, generator=g)
    level = noise_level(noisy, scale).flatten()
    torch.testing.assert_close(level, torch.tensor([0.01, 0.03]) * scale, rtol=0.1, atol=0)
    assert float(noise_level(ramp, scale).abs().max()) < 1e-6  # no noise: 0, the edge and the ramp do not count
    assert noise_level(torch.rand(1, 3, 2, 40), scale).shape == (1, 3, 1, 1)  # under 3 pixels a side: 0
    assert float(noise_level(torch.rand(1, 3, 2, 40), scale).abs().max()) == 0.0


def test_the_noise_weight_raises_a_noisy_images_map_and_keeps_its_ranking() -> None:
    g = torch.Generator().manual_seed(6)
    lr = 0.5 + 0.02 * torch.randn(1, 1, 24, 24, generator=g)
    sr, spread = torch.rand(1, 1, 96, 96, generator=g), torch.rand(1, 1, 96, 96, generator=g)
    without = uncertainty_map(sr, None, spread, None, {"spread": 1.0}, lr=lr)
    with_noise = uncertainty_map(sr, None, spread, None, {"spread": 1.0, "noise": 0.5}, lr=lr)
    torch.testing.assert_close(with_noise - without, torch.full_like(without, 0.5 * 0.02 * 4), rtol=0.1, atol=0)


def test_the_fit_weights_the_noise_level_where_unseen_images_hold_noise_no_local_feature_sees() -> None:
    from zoo.evaluate.uncertainty import fit_weights, map_of

    g = torch.Generator().manual_seed(7)
    rng = np.random.default_rng(7)
    images = []
    for k, sigma in enumerate((0.0, 0.01, 0.04, 0.1)):  # HR noise the LR cannot show, and its measured level
        detail = 0.1 * torch.rand(1, 1, 48, 48, generator=g, dtype=torch.float64) ** 4
        image = _parts_with_error(detail, 1.0, 20 + k)
        image.hr = image.hr + rng.normal(0.0, sigma, image.hr.shape)
        image.features["noise"] = np.full_like(image.sr, sigma)
        images.append(image)
    weights = fit_weights(images, scale_on=images)
    assert weights["noise"] > 0
    ratios = [map_of(im, weights).mean() / im.error.mean() for im in images]
    without = dict(weights, noise=0.0)
    assert max(ratios) / min(ratios) < max(map_of(im, without).mean() / im.error.mean() for im in images) / min(
        map_of(im, without).mean() / im.error.mean() for im in images)


def test_the_fit_script_adds_a_calibration_folders_images_to_the_fit_and_the_scale(tmp_path: Path, capsys) -> None:
    from zoo.assets import ASSETS_DIR
    from zoo.data.prepare import PrepareConfig, prepare

    module = _fit_script()
    config = PrepareConfig(scale=4, size=256, subject_from="parent", fractions=(0.0, 1.0, 0.0))
    prepare([ASSETS_DIR / "samples" / "slices" / "deid-us-breast"], tmp_path / "cal" / "prepared", config)
    pipe = tiny_pipeline("medvae-4-1", steps=1, self_ensemble=2)
    pipe.save_pretrained(tmp_path / "p")
    assert module.main(["--pipeline", str(tmp_path / "p"), "--calibration", str(tmp_path / "cal" / "prepared")]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert printed["images"][0] == "nema-ct-small_full" and len(printed["images"]) == 6
    assert all(name.startswith("deid-us-breast") for name in printed["images"][1:])


def test_the_fit_script_refuses_a_calibration_folder_that_is_not_prepared_in_one_line(tmp_path: Path, capsys) -> None:
    module = _fit_script()
    pipe = tiny_pipeline("medvae-4-1", steps=1, self_ensemble=2)
    pipe.save_pretrained(tmp_path / "p")
    before = (tmp_path / "p" / PIPELINE_FILE).read_bytes()
    with pytest.raises(SystemExit) as done:
        module.main(["--pipeline", str(tmp_path / "p"), "--calibration", str(tmp_path / "missing"), "--write"])
    err = capsys.readouterr().err.strip()
    assert done.value.code == 2 and "\n" not in err and "missing" in err and "manifest.csv" in err
    assert (tmp_path / "p" / PIPELINE_FILE).read_bytes() == before
