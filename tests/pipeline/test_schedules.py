"""Noise schedules: the paper's cosine values, the time convention, strided timesteps."""

from __future__ import annotations

import pytest
import torch

from zoo.samplers.schedules import cosine_schedule, linear_schedule, make_schedule, strided_timesteps


@pytest.mark.parametrize(
    ("seed_index", "abar"),
    [(15, 5.5e-4), (49, 5.8e-3), (99, 0.0236), (249, 0.143), (499, 0.492), (999, 0.99996)],
)
def test_cosine_matches_seed_table_through_flipped_index(seed_index: int, abar: float) -> None:
    schedule = cosine_schedule(1000)
    t = schedule.seed_index(seed_index)  # the seed code's index i is our t = T-1-i
    assert float(schedule.alpha_bar(t)) == pytest.approx(abar, rel=0.02)


def test_cosine_endpoints_and_direction() -> None:
    abar = cosine_schedule(1000).alphas_cumprod
    assert abar.dtype == torch.float64 and abar.shape == (1000,)
    assert float(abar[0]) == pytest.approx(0.99996, abs=1e-5)  # t = 0 is (almost) clean
    assert float(abar[-1]) == pytest.approx(3.7e-33, rel=0.02)  # t = T-1 is pure noise, no clipping
    assert bool((abar[1:] < abar[:-1]).all())


def test_clean_end_and_range_check() -> None:
    schedule = linear_schedule(100)
    assert float(schedule.alpha_bar(-1)) == 1.0
    assert float(schedule.alpha_bar(0)) == pytest.approx(1 - 1e-4)
    with pytest.raises(ValueError, match="timesteps must lie"):
        schedule.alpha_bar(100)


def test_strided_timesteps_cover_the_full_range() -> None:
    assert strided_timesteps(1000, 1) == [999]
    assert strided_timesteps(1000, 2) == [999, 0]
    steps = strided_timesteps(1000, 50)
    assert steps[0] == 999 and steps[-1] == 0 and len(set(steps)) == 50
    assert strided_timesteps(1000, 1000) == list(range(999, -1, -1))
    with pytest.raises(ValueError, match="steps must be in 1..1000"):
        strided_timesteps(1000, 1001)


def test_make_schedule_round_trips_its_config() -> None:
    for schedule in (cosine_schedule(50, s=0.01), linear_schedule(30, 1e-3, 0.05)):
        again = make_schedule(dict(schedule.config))
        assert torch.equal(again.alphas_cumprod, schedule.alphas_cumprod)
    with pytest.raises(ValueError, match="unknown noise schedule"):
        make_schedule("sigmoid")


def test_add_noise_per_sample_timesteps() -> None:
    schedule = cosine_schedule()
    x0, noise = torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    out = schedule.add_noise(x0, noise, torch.tensor([0, 999]))
    assert out[0].mean().item() == pytest.approx(0.99996**0.5, abs=1e-6)
    assert out[1].abs().max().item() < 1e-15
