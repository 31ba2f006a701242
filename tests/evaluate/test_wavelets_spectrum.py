import math

import numpy as np
import pytest

from zoo.evaluate.spectrum import radial_profile, spectrum_error
from zoo.evaluate.wavelets import band_errors, band_names, band_psnr, haar_bands


def test_band_names_order():
    assert band_names() == ["LL3", "LH3", "HL3", "HH3", "LH2", "HL2", "HH2", "LH1", "HL1", "HH1"]


def test_impulse_on_constant_image_hand_computed():
    """An impulse v at (0,0) on a constant c: orthonormal Haar gives |coeff| v/2, v/4, v/8 per level."""
    c, v = 0.25, 0.4
    hr = np.full((8, 8), c)
    sr = hr.copy()
    sr[0, 0] += v
    bands = haar_bands(hr)
    assert bands["LL3"].shape == (1, 1) and bands["HH1"].shape == (4, 4)
    assert bands["LL3"][0, 0] == pytest.approx(8 * c)
    assert all(np.allclose(bands[b], 0) for b in band_names()[1:])
    errs = band_errors(sr, hr)
    for level, size, coeff in ((1, 16, v / 2), (2, 4, v / 4), (3, 1, v / 8)):
        for kind in ("LH", "HL", "HH"):
            assert errs[f"{kind}{level}"]["mse"] == pytest.approx(coeff**2 / size)
            assert math.isnan(errs[f"{kind}{level}"]["rel_energy_error"])  # HR detail band has no energy
    assert errs["LL3"]["mse"] == pytest.approx((v / 8) ** 2)
    assert errs["LL3"]["rel_energy_error"] == pytest.approx((v / 8) ** 2 / (8 * c) ** 2)
    psnr = band_psnr(sr, hr)
    assert psnr["LL3"] == pytest.approx(20 * math.log10(8 * c / (v / 8)))
    assert psnr["HH1"] == 0.0  # paper convention: HR band all ~0
    assert band_psnr(hr, hr)["LL3"] == 100.0  # paper convention: MSE < 1e-12


def test_radial_profile_locates_a_cosine():
    h = w = 64
    x = np.arange(w)
    for k in (4, 20):
        img = np.tile(np.cos(2 * np.pi * k * x / w), (h, 1))
        prof = radial_profile(img)
        r = k / w
        expected_bin = int(r / (np.sqrt(0.5**2 + 0.5**2) / 10))
        assert int(np.argmax(prof)) == expected_bin
    np.testing.assert_allclose(spectrum_error(img, img), 0)


def test_spectrum_error_of_a_scaled_image_is_log10_of_the_power_ratio():
    img = np.random.default_rng(0).random((64, 64))  # broadband: every bin has power >> 1e-12
    np.testing.assert_allclose(spectrum_error(2 * img, img), np.log10(4), atol=1e-9)
