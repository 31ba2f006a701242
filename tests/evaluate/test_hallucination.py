import math

import numpy as np
import pytest

from zoo.evaluate.hallucination import cohens_h, hallucination, noise_floor


def test_known_rates_and_magnitudes():
    hr = np.full((10, 10), 0.5)
    ae = hr.copy()
    ae[:5] += 0.1  # |AE-HR| is 0.1 on half the pixels: mean 0.05, std 0.05 -> tau 0.15
    tau = noise_floor(ae, hr)
    assert tau == pytest.approx(0.15)
    sr = hr.copy()
    sr.flat[:5] += 0.3  # 5 hallucinated pixels (+0.3 > tau)
    sr.flat[10:13] -= 0.2  # 3 lost pixels (-0.2 < -tau)
    sr.flat[20:30] += 0.1  # within the floor: neither
    out = hallucination(sr, hr, tau)
    assert out["hallu_rate"] == pytest.approx(0.05)
    assert out["loss_rate"] == pytest.approx(0.03)
    assert out["hallu_magnitude"] == pytest.approx(0.3)
    assert out["loss_magnitude"] == pytest.approx(0.2)
    assert hallucination(hr, hr, tau) == {"hallu_rate": 0.0, "loss_rate": 0.0, "hallu_magnitude": 0.0,
                                          "loss_magnitude": 0.0}


def test_cohens_h():
    assert cohens_h(0.3, 0.3) == 0.0
    assert cohens_h(1.0, 0.0) == pytest.approx(math.pi)
    assert cohens_h(0.129, 0.133) == pytest.approx(2 * math.asin(math.sqrt(0.129)) - 2 * math.asin(math.sqrt(0.133)))
    assert abs(cohens_h(0.129, 0.133)) < 0.02  # the paper's BraTS order of magnitude
