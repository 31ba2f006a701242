"""Pipeline oracle: a denoiser that outputs the exact x0/eps/v of a known clean latent makes every sampler
return that latent, through the pipeline's parameter conversions (plain and residual)."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.denoisers.base import Denoiser
from zoo.pipeline import CompatibilityError, PipelineConfig, SRPipeline
from zoo.samplers.schedules import NoiseSchedule, make_schedule

from .conftest import small_vae_config


class OracleDenoiser(Denoiser):
    """Outputs the exact prediction for the clean latent ``x0``, written out independently of zoo's converters."""

    def __init__(self, x0: torch.Tensor, schedule: NoiseSchedule, prediction_type: str, residual: bool) -> None:
        super().__init__(x0.shape[1], prediction_type, 1, {})
        self.register_buffer("x0", x0)
        self.schedule, self.residual = schedule, residual
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        abar = self.schedule.alphas_cumprod[t].to(torch.float64).view(-1, 1, 1, 1)
        a, s = abar.sqrt(), (1 - abar).sqrt()
        x_t, x0, cond = x_t.double(), self.x0.double(), cond.double()
        if self.residual:  # the residual frame: clean residual r0, noisy residual x_t - a*cond
            x0, x_t = x0 - cond, x_t - a * cond
        eps = (x_t - a * x0) / s
        out = {"x0": x0, "eps": eps, "v": a * eps - s * x0}[self.prediction_type]
        return out.float()


@pytest.fixture(scope="module")
def vae():
    return zoo.build_autoencoder("medvae-4-1", pretrained=False, **small_vae_config("medvae-4-1"))


CASES = [("x0", "cosine"), ("v", "cosine"), ("eps", "linear"), ("x0", "linear"), ("v", "linear")]


@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
@pytest.mark.parametrize(("prediction_type", "schedule"), CASES)
@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp-2m", "cold"])
@pytest.mark.parametrize("steps", [1, 3, 20])
def test_oracle_denoiser_is_reproduced_by_every_sampler(
    vae, sampler: str, prediction_type: str, schedule: str, residual: bool, steps: int
) -> None:
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 1, 8, 8, generator=gen)
    cond = x0 + 0.3 * torch.randn(2, 1, 8, 8, generator=gen)
    sched = make_schedule(schedule)
    oracle = OracleDenoiser(x0, sched, prediction_type, residual)
    pipe = SRPipeline(vae, oracle, zoo.build_sampler(sampler), PipelineConfig(schedule=sched, residual=residual))
    out = pipe.sample(cond, seed=0, steps=steps, progress=False)
    torch.testing.assert_close(out, x0, atol=2e-4, rtol=2e-4)


@pytest.mark.parametrize("prediction_type", ["x0", "eps", "v"])
@pytest.mark.parametrize("residual", [False, True])
def test_training_target_inverts_predict_x0(vae, prediction_type: str, residual: bool) -> None:
    sched = make_schedule("linear")
    den = zoo.build_denoiser("unet", pretrained=False, preset="tiny", latent_channels=1,
                             prediction_type=prediction_type)
    pipe = SRPipeline(vae, den, zoo.build_sampler("ddim"), PipelineConfig(schedule=sched, residual=residual))
    x0, noise, cond = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    t = torch.tensor([0, 500, 999])
    x_t = sched.add_noise(x0, noise, t)
    target = pipe.training_target(x0, noise, t, cond)
    pipe.denoise = lambda *_: target  # feed the exact target through the conversion only
    torch.testing.assert_close(pipe.predict_x0(x_t, t, cond), x0, atol=1e-4, rtol=1e-4)


def test_eps_with_zero_terminal_snr_schedule_is_refused(vae) -> None:
    den = zoo.build_denoiser("unet", pretrained=False, preset="tiny", latent_channels=1, prediction_type="eps")
    with pytest.raises(CompatibilityError, match="predicts eps.*zero SNR"):
        SRPipeline(vae, den, zoo.build_sampler("ddim"), PipelineConfig(schedule=make_schedule("cosine")))
