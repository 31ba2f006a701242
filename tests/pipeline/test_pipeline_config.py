"""PipelineConfig (one record of the options), the runtime built once, default_denoiser, weight sources."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import zoo
from zoo.backends.torch import TorchBackend
from zoo.errors import ZooError
from zoo.pipeline.config import CompatibilityError, PipelineConfig, PipelineConfigError
from zoo.pipeline.saved import OPTIONAL_OPTIONS, OPTIONS, PIPELINE_FILE

from .conftest import small_vae_config, tiny_pipeline

LR = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))


def test_defaults_and_json_round_trip() -> None:
    config = PipelineConfig()
    assert (config.steps, config.scale, config.conditioning, config.dtype) == (None, 4, "lr-latent", torch.float32)
    assert config.schedule.config["name"] == "cosine" and config.latent_stats is None
    custom = config.replace(scale=2, conditioning="bicubic-latent", pixel_skip=True, schedule="linear",
                            latent_stats={"mean": [0.5], "std": [2.0]}, dtype="bfloat16", data_consistency=3)
    data = json.loads(json.dumps(custom.to_dict()))
    assert data["dtype"] == "bfloat16" and data["schedule"]["name"] == "linear"
    again = PipelineConfig.from_dict({**data, "vae": {"name": "ignored"}})  # a file's other keys are ignored
    assert again == custom and again != config and again.dtype is torch.bfloat16
    assert torch.equal(again.latent_stats.std, torch.tensor([2.0]))


def test_a_file_without_the_newer_options_gets_their_defaults() -> None:
    every = {"steps": 3, "scale": 4, "conditioning": "lr-latent", "residual": True,
             "schedule": {"name": "cosine"}, "latent_stats": {"mean": [0.0], "std": [1.0]}}
    config = PipelineConfig.from_dict(every)
    assert (config.pixel_skip, config.data_consistency, config.dtype) == (False, 0, torch.float32)


def test_the_file_schema_comes_from_the_config() -> None:
    names = {f.name for f in dataclasses.fields(PipelineConfig)}
    assert set(OPTIONS) | set(OPTIONAL_OPTIONS) == names and not set(OPTIONS) & set(OPTIONAL_OPTIONS)
    assert {"pixel_skip", "data_consistency", "dtype"} <= set(OPTIONAL_OPTIONS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": "ten"}, 'pipeline options: steps: expected a positive integer or null, got "ten"'),
        ({"scale": 0}, "pipeline options: scale: expected a positive integer, got 0"),
        ({"residual": "yes"}, 'pipeline options: residual: expected true or false, got "yes"'),
        ({"data_consistency": -1}, "pipeline options: data_consistency: expected an integer >= 0, got -1"),
        ({"dtype": "int8"}, "pipeline options: dtype: unknown floating dtype 'int8'"),
        ({"schedule": "quadratic"}, "pipeline options: schedule: unknown noise schedule 'quadratic'"),
        ({"latent_stats": {"mean": [0.0], "std": [0.0]}}, "pipeline options: latent_stats: "),
    ],
)
def test_a_wrong_option_is_one_error_naming_it(changes: dict, message: str) -> None:
    with pytest.raises(PipelineConfigError) as err:
        PipelineConfig(**changes)
    assert isinstance(err.value, ZooError) and isinstance(err.value, ValueError)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_options_that_exclude_each_other() -> None:
    with pytest.raises(CompatibilityError, match="conditioning must be one of"):
        PipelineConfig(conditioning="nearest")
    with pytest.raises(CompatibilityError, match="pixel_skip needs conditioning='bicubic-latent'"):
        PipelineConfig(pixel_skip=True)


def test_pipeline_attributes_read_and_replace_the_checked_options() -> None:
    pipe = tiny_pipeline("medvae-4-1", steps=3, data_consistency=2)
    assert pipe.steps == 3 and pipe.data_consistency == 2 and pipe.options.steps == 3
    assert pipe.config() == pipe.options.to_dict()
    pipe.steps = 5
    assert pipe.options.steps == 5 and pipe.num_steps == 5
    with pytest.raises(PipelineConfigError, match="steps: expected a positive integer"):
        pipe.steps = "ten"
    with pytest.raises(CompatibilityError, match="latent stats have 3 channels"):
        pipe.latent_stats = {"mean": [0.0] * 3, "std": [1.0] * 3}
    assert pipe.options.steps == 5 and pipe.latent_stats.channels == 1


class CountingBackend(TorchBackend):
    """The torch backend, counting the runtimes it builds."""

    def __init__(self) -> None:
        self.built = 0

    def runtime(self, pipeline):
        self.built += 1
        return super().runtime(pipeline)


def test_the_runtime_is_built_once_and_again_only_for_a_new_device_or_dtype() -> None:
    backend = CountingBackend()
    pipe = tiny_pipeline("medvae-4-1", backend=backend, steps=1)
    assert backend.built == 1  # build_pipeline builds it, once
    pipe(LR, seed=0, progress=False)
    pipe.to("cpu").to(dtype=torch.float32)
    pipe(LR, seed=0, progress=False)
    assert backend.built == 1
    pipe.to(dtype=torch.float64)
    assert backend.built == 1  # not before it is used
    assert pipe(LR.double(), seed=0, progress=False).dtype == torch.float64
    assert backend.built == 2 and next(pipe.denoiser.parameters()).dtype == torch.float64
    pipe.build_runtime()
    assert backend.built == 3
    lazy = zoo.SRPipeline(pipe.vae, pipe.denoiser, pipe.sampler, pipe.options, backend)
    assert backend.built == 3  # built on first use
    assert lazy.runtime is lazy.runtime and backend.built == 4


def test_default_denoiser_is_what_build_pipeline_builds_by_name() -> None:
    vae = zoo.build_autoencoder("medvae-4-3", pretrained=False, **small_vae_config("medvae-4-3"))
    den = zoo.default_denoiser(vae, 128, preset="tiny")
    assert (den.latent_channels, den.config["sample_size"]) == (3, 32) and den.card.name == "unet"
    named = zoo.build_pipeline(vae, "unet", pretrained=False, hr_size=128, denoiser_config={"preset": "tiny"})
    assert named.denoiser.config == den.config
    dit = zoo.default_denoiser(vae, 64, "dit", preset="tiny", sample_size=8)  # config overrides the derived size
    assert dit.card.name == "dit" and dit.config["sample_size"] == 8


def test_weight_source_carries_the_checksum_of_the_card_default_only() -> None:
    from zoo.factory import WeightSource, weight_source

    card = dataclasses.replace(zoo.get_card("autoencoder", "medvae-4-1"), weights="vae.ckpt", sha256="ab" * 32)
    assert weight_source(card, None, True) == WeightSource("vae.ckpt", "ab" * 32)
    assert weight_source(card, "mine.ckpt", True) == WeightSource("mine.ckpt", None)
    assert weight_source(card, None, False) is None


def test_a_folder_of_the_older_format_loads_with_the_defaults(tmp_path: Path) -> None:
    pipe = tiny_pipeline("medvae-4-1", steps=2)
    pipe.save_pretrained(tmp_path / "p")
    file = tmp_path / "p" / PIPELINE_FILE
    data = json.loads(file.read_text())
    for key in ("pixel_skip", "data_consistency", "dtype"):  # written by later versions only
        data.pop(key)
    file.write_text(json.dumps(data))
    again = zoo.load_pipeline(tmp_path / "p")
    assert again.options == pipe.options
    torch.testing.assert_close(again(LR, seed=1, progress=False), pipe(LR, seed=1, progress=False), atol=0, rtol=0)


def test_the_example_of_docs_api_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    example = next(b for b in text.split("```python\n")[1:] if "pipeline options" in b).split("```", 1)[0]
    exec(compile(example, "docs/api.md", "exec"), {})
    assert capsys.readouterr().out == 'pipeline options: steps: expected a positive integer or null, got "ten"\n'
