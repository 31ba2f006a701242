import math

import numpy as np
import pytest
from scipy import stats as sps

from zoo.evaluate import stats

AE = [23.92, 31.39, 32.02, 27.85, 37.87, 36.93]  # paper §3.4: SD-VAE then MedVAE-4_3, MRNet/BraTS/CXR
SR_TRUEHR = [22.08, 23.40, 25.13, 24.00, 26.23, 28.73]
SR_SELFREF = [22.34, 23.51, 25.58, 25.26, 26.42, 28.87]


def test_paper_v2_n6_regression():
    fit = stats.pearson_regression(AE, SR_TRUEHR)
    assert round(fit["r"], 3) == 0.870
    assert round(fit["r2"], 3) == 0.757
    assert round(fit["p"], 3) == 0.024
    assert (round(fit["r_ci_low"], 2), round(fit["r_ci_high"], 2)) == (0.20, 0.99)
    r, p = sps.pearsonr(AE, SR_TRUEHR)
    assert fit["r"] == pytest.approx(r, abs=1e-12) and fit["p"] == pytest.approx(p, abs=1e-12)


def test_paper_v1_n6_regression():
    fit = stats.pearson_regression(AE, SR_SELFREF)
    assert round(fit["r"], 4) == 0.8156
    assert round(fit["r2"], 3) == 0.665
    assert round(fit["slope"], 4) == 0.3506 and round(fit["intercept"], 2) == 14.23
    assert round(fit["p"], 3) == 0.048


def test_wilcoxon_reproduces_patient_level_p():
    """Paper §3.3: n=35 subjects, all differences positive: approx two-sided p = 2.48e-7, exact 5.82e-11."""
    rng = np.random.default_rng(0)
    b = rng.normal(24, 1, 35)
    a = b + rng.uniform(0.5, 5, 35)
    approx = stats.wilcoxon(a, b, method="approx")
    assert approx["method"] == "approx" and approx["p"] == pytest.approx(2.48e-7, rel=1e-2)
    exact = stats.wilcoxon(a, b)
    assert exact["method"] == "exact" and exact["p"] == pytest.approx(5.82e-11, rel=1e-2)
    assert approx["p"] == pytest.approx(sps.wilcoxon(a, b, method="approx").pvalue, rel=1e-12)
    assert stats.rank_biserial(a, b) == 1.0


def test_wilcoxon_auto_uses_approx_for_large_n():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=120), rng.normal(size=120)
    out = stats.wilcoxon(a, b)
    assert out["method"] == "approx"
    assert out["p"] == pytest.approx(sps.wilcoxon(a, b, method="approx").pvalue, rel=1e-12)


def _with_moments(rng, n, mean, sd):
    x = rng.standard_normal(n)
    return (x - x.mean()) / x.std(ddof=1) * sd + mean


def test_pooled_d_reproduces_paper_from_mean_and_sd():
    rng = np.random.default_rng(2)
    med, sd = _with_moments(rng, 120, 24.00, 1.70), _with_moments(rng, 120, 22.08, 1.57)
    assert round(stats.cohens_d_pooled(med, sd), 2) == 1.17
    diff = med - sd
    assert stats.cohens_dz(med, sd) == pytest.approx(diff.mean() / diff.std(ddof=1))


def test_paired_bootstrap_equals_scipy_and_is_seeded():
    rng = np.random.default_rng(3)
    b = rng.normal(22, 1.5, 50)
    a = b + rng.normal(2, 0.5, 50)
    ci = stats.bootstrap_mean_diff(a, b)
    ref = sps.bootstrap((a - b,), np.mean, n_resamples=10_000, method="percentile",
                        rng=np.random.default_rng(42)).confidence_interval
    assert (ci["low"], ci["high"]) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert ci["low"] < (a - b).mean() < ci["high"]
    assert stats.bootstrap_mean_diff(a, b) == ci


def test_bland_altman_hand_values():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([0.5, 2.5, 2.0, 3.0])  # differences 0.5, -0.5, 1, 1
    out = stats.bland_altman(a, b)
    sd = np.std([0.5, -0.5, 1, 1], ddof=1)
    assert out["bias"] == pytest.approx(0.5) and out["sd"] == pytest.approx(sd)
    assert out["loa_low"] == pytest.approx(0.5 - 1.96 * sd) and out["loa_high"] == pytest.approx(0.5 + 1.96 * sd)


def test_mean_std_is_ddof0_and_skips_non_finite():
    out = stats.mean_std([1.0, 3.0, math.inf, math.nan])
    assert out == {"mean": 2.0, "std": 1.0, "n": 2, "n_excluded": 2}


def test_paired_inputs_are_checked():
    with pytest.raises(ValueError, match="one length"):
        stats.paired_comparison([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="infinite"):
        stats.cohens_dz([1, 2, math.inf], [1, 2, 3])
