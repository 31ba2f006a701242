"""Samplers: the oracle property, seeding, per-image generators, the legacy cold sampler, options."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.samplers.noise import generators_for, randn
from zoo.samplers.schedules import cosine_schedule, linear_schedule

SAMPLERS = ["ddpm", "ddim", "dpmpp-2m", "cold"]


def _oracle(x0: torch.Tensor):
    calls: list[int] = []

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.dtype == torch.long and t.shape == (x_t.shape[0],)
        calls.append(int(t[0]))
        return x0

    return model, calls


@pytest.mark.parametrize("schedule", [cosine_schedule(), linear_schedule()], ids=["cosine", "linear"])
@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("steps", [1, 2, 7, 50])
def test_exact_model_gives_its_x0_at_any_step_count(name: str, steps: int, schedule) -> None:
    x0 = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    model, calls = _oracle(x0)
    sampler = zoo.build_sampler(name)
    x = torch.randn(x0.shape, generator=torch.Generator().manual_seed(2))
    out = sampler(model, x, steps, schedule=schedule, generator=generators_for(0, 2), disable=True)
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=1e-5)
    assert len(calls) == steps and calls[0] == 999 and (steps == 1 or calls[-1] == 0)


def test_legacy_cold_visits_the_first_k_seed_timesteps_only() -> None:
    x0 = torch.randn(1, 1, 4, 4)
    model, calls = _oracle(x0)
    sampler = zoo.build_sampler("cold", legacy_unstrided=True)
    out = sampler(model, torch.randn(1, 1, 4, 4), 16, schedule=cosine_schedule(), disable=True)
    assert calls == list(range(999, 983, -1))  # seed indices 0..15: the 16 noisiest timesteps
    torch.testing.assert_close(out, x0)
    strided_model, strided_calls = _oracle(x0)
    zoo.build_sampler("cold")(strided_model, torch.randn(1, 1, 4, 4), 16, schedule=cosine_schedule(), disable=True)
    assert strided_calls[0] == 999 and strided_calls[-1] == 0 and len(strided_calls) == 16


def test_ddim_eta0_matches_cold_up_to_its_eps_offset() -> None:
    schedule = cosine_schedule()
    x = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(3))

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # a smooth non-oracle denoiser
        return torch.tanh(x_t) * 0.5

    ddim = zoo.build_sampler("ddim")(model, x, 10, schedule=schedule, disable=True)
    cold = zoo.build_sampler("cold", eps_offset=0.0)(model, x, 10, schedule=schedule, disable=True)
    torch.testing.assert_close(ddim, cold, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["ddpm", "ddim"])
def test_stochastic_sampling_is_seeded_and_per_image(name: str) -> None:
    schedule = cosine_schedule()
    sampler = zoo.build_sampler(name, **({"eta": 1.0} if name == "ddim" else {}))

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * x_t

    def run(seeds: list[int]) -> torch.Tensor:
        gens = generators_for(seeds, len(seeds))
        x = randn((len(seeds), 1, 4, 4), gens, "cpu", torch.float32)
        return sampler(model, x, 5, schedule=schedule, generator=gens, disable=True)

    both = run([7, 8])
    torch.testing.assert_close(run([7, 8]), both, atol=0, rtol=0)
    torch.testing.assert_close(run([8])[0], both[1], atol=0, rtol=0)
    assert not torch.allclose(run([9])[0], both[1])


def test_sampler_options_are_validated_and_copied() -> None:
    ddim = zoo.build_sampler("ddim")
    assert ddim.config == {"eta": 0.0} and ddim.default_steps == 50
    assert zoo.build_sampler(ddim, eta=0.5).config == {"eta": 0.5} and ddim.config == {"eta": 0.0}
    with pytest.raises(ValueError, match=r"no option\(s\) \['etaa'\]"):
        zoo.build_sampler("ddim", etaa=1.0)


def test_callback_sees_every_step() -> None:
    seen: list[int] = []
    x0 = torch.zeros(1, 1, 2, 2)
    zoo.build_sampler("dpmpp-2m")(_oracle(x0)[0], torch.randn(1, 1, 2, 2), 4, schedule=cosine_schedule(),
                                  callback=lambda info: seen.append(info["i"]), disable=True)
    assert seen == [0, 1, 2, 3]
