"""Paired statistics for comparing two methods on the same images (paper §3, with §6.5's fixes).

Everything takes two arrays aligned by id (see :mod:`zoo.evaluate.pairing`); nothing here pairs by
position in a list it did not receive already paired.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats


def _paired(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples must be 1-D arrays of one length, got {a.shape} and {b.shape}")
    if a.size < 2:
        raise ValueError("paired statistics need at least 2 pairs")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("paired samples contain NaN or infinite values (e.g. PSNR of identical images)")
    return a, b


def cohens_dz(a: Any, b: Any) -> float:
    """Paired effect size ``mean(a−b) / std(a−b, ddof=1)``."""
    a, b = _paired(a, b)
    diff = a - b
    return float(diff.mean() / diff.std(ddof=1))


def cohens_d_pooled(a: Any, b: Any) -> float:
    """The paper's independent-samples d: mean difference over the pooled SD (ddof 1)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = a.size, b.size
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    return float((a.mean() - b.mean()) / pooled)


def bootstrap_mean_diff(
    a: Any, b: Any, n_resamples: int = 10_000, seed: int = 42, confidence: float = 0.95, method: str = "percentile"
) -> dict[str, Any]:
    """Paired bootstrap CI of ``mean(a − b)`` (pairs resampled together; scipy.stats.bootstrap)."""
    a, b = _paired(a, b)
    res = stats.bootstrap(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method=method,
        rng=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return {"low": float(ci.low), "high": float(ci.high), "n_resamples": n_resamples, "seed": seed,
            "confidence": confidence, "method": method, "paired": True}


def wilcoxon(a: Any, b: Any, method: str = "auto", alternative: str = "two-sided") -> dict[str, Any]:
    """Wilcoxon signed-rank test of ``a − b`` with the method actually used reported.

    ``auto`` picks ``exact`` for n ≤ 50 without zero or tied differences, else ``approx`` (normal
    approximation without continuity correction, which reproduces the paper's p-values).
    """
    a, b = _paired(a, b)
    diff = a - b
    if method == "auto":
        nonzero = np.abs(diff[diff != 0])
        clean = nonzero.size == diff.size and np.unique(nonzero).size == nonzero.size
        method = "exact" if diff.size <= 50 and clean else "approx"
    res = stats.wilcoxon(a, b, alternative=alternative, method=method)
    return {"statistic": float(res.statistic), "p": float(res.pvalue), "method": method, "alternative": alternative}


def rank_biserial(a: Any, b: Any) -> float:
    """Matched-pairs rank-biserial correlation ``(R⁺ − R⁻) / ΣR`` (zero differences dropped)."""
    a, b = _paired(a, b)
    diff = a - b
    diff = diff[diff != 0]
    if diff.size == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(diff))
    return float((ranks[diff > 0].sum() - ranks[diff < 0].sum()) / ranks.sum())


def bland_altman(a: Any, b: Any) -> dict[str, float]:
    """Bias ``mean(a−b)``, SD (ddof 1) and 95% limits of agreement ``bias ± 1.96·SD``."""
    a, b = _paired(a, b)
    diff = a - b
    bias, sd = float(diff.mean()), float(diff.std(ddof=1))
    return {"bias": bias, "sd": sd, "loa_low": bias - 1.96 * sd, "loa_high": bias + 1.96 * sd, "n": int(diff.size)}


def paired_comparison(a: Any, b: Any, n_resamples: int = 10_000, seed: int = 42,
                      wilcoxon_method: str = "auto") -> dict[str, Any]:
    """Everything the paper reports for "A vs B", computed on correctly paired data."""
    a, b = _paired(a, b)
    diff = a - b
    return {
        "n": int(a.size),
        "mean_a": float(a.mean()), "std_a": float(a.std()),
        "mean_b": float(b.mean()), "std_b": float(b.std()),
        "mean_diff": float(diff.mean()), "sd_diff": float(diff.std(ddof=1)),
        "ci_mean_diff": bootstrap_mean_diff(a, b, n_resamples=n_resamples, seed=seed),
        "cohens_dz": cohens_dz(a, b),
        "cohens_d_pooled": cohens_d_pooled(a, b),
        "wilcoxon": wilcoxon(a, b, method=wilcoxon_method),
        "rank_biserial": rank_biserial(a, b),
        "n_a_better": int(np.sum(diff > 0)), "n_b_better": int(np.sum(diff < 0)),
        "bland_altman": bland_altman(a, b),
    }


def pearson_regression(x: Any, y: Any, confidence: float = 0.95) -> dict[str, float]:
    """Pearson r, R², OLS slope/intercept, two-sided p and the Fisher-z CI of r (paper §3.4)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.size < 3:
        raise ValueError(f"regression needs at least 3 (x, y) points of equal count, got {x.size} and {y.size}")
    r, p = stats.pearsonr(x, y)
    fit = stats.linregress(x, y)
    z = stats.norm.ppf(0.5 + confidence / 2)
    if x.size > 3 and abs(r) < 1:
        half = z / math.sqrt(x.size - 3)
        low, high = math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)
    else:
        low = high = math.nan
    return {"n": int(x.size), "r": float(r), "r2": float(r) ** 2, "slope": float(fit.slope),
            "intercept": float(fit.intercept), "p": float(p), "r_ci_low": low, "r_ci_high": high,
            "confidence": confidence}


def mean_std(values: Any) -> dict[str, float]:
    """Arithmetic mean and population std (ddof 0) of the finite values, with counts (paper §2.1)."""
    v = np.asarray(values, np.float64)
    finite = v[np.isfinite(v)]
    return {
        "mean": float(finite.mean()) if finite.size else math.nan,
        "std": float(finite.std()) if finite.size else math.nan,
        "n": int(finite.size),
        "n_excluded": int(v.size - finite.size),
    }
