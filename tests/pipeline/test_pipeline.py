"""SRPipeline behaviour: determinism, batch independence, image edges, geometry and compatibility errors,
latent stats, conditioning options, save/load, backends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import zoo
from zoo.cards import BackendCard
from zoo.ops.latents import LatentStats, measure_latent_stats
from zoo.pipeline import CompatibilityError
from zoo.pipeline.saved import PipelineFileError

from .conftest import small_vae_config, tiny_pipeline

LR = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))


def test_same_seed_same_output_other_seed_other_output(pipe43) -> None:
    a = pipe43(LR, seed=5, progress=False)
    torch.testing.assert_close(pipe43(LR, seed=5, progress=False), a, atol=0, rtol=0)
    assert not torch.allclose(pipe43(LR, seed=6, progress=False), a)


def test_an_image_does_not_depend_on_its_batch(pipe43) -> None:
    batch = pipe43(LR, seed=10, progress=False)
    alone = pipe43(LR[1:2], seed=11, progress=False)  # image 1 of the batch uses seed 10 + 1
    torch.testing.assert_close(alone[0], batch[1], atol=1e-5, rtol=1e-5)
    listed = pipe43(LR[[2, 1]], seed=[12, 11], progress=False)
    torch.testing.assert_close(listed[1], batch[1], atol=1e-5, rtol=1e-5)


def test_numpy_images_come_back_in_their_range_dtype_and_layout(pipe43) -> None:
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 65535, (32, 32), dtype=np.uint16),
        (rng.random((16, 24, 3)) * 4000 - 1000).astype(np.float32),  # CT-like range
        rng.integers(0, 255, (32, 32), dtype=np.uint8),
    ]
    out = pipe43(images, seed=0, progress=False)
    assert [o.shape for o in out] == [(128, 128), (64, 96, 3), (128, 128)]
    assert [o.dtype for o in out] == [np.uint16, np.float32, np.uint8]
    assert -1000 <= out[1].min() and out[1].max() <= 3000
    # a numpy image gives what the same image gives in a tensor batch (minmax card: per-image range)
    as_tensor = pipe43(torch.from_numpy(images[2][None, None] / 255.0).float(), seed=2, progress=False)
    lo, hi = images[2].min(), images[2].max()
    expected = np.rint(((as_tensor[0, 0].numpy() * 255) - lo) / (hi - lo) * (hi - lo) + lo)
    assert np.abs(out[2].astype(float) - expected).max() <= 1


def test_bad_inputs_are_clear_errors(pipe43) -> None:
    with pytest.raises(ValueError, match=r"values must lie in \[0, 1\]"):
        pipe43(LR * 2, progress=False)
    with pytest.raises(ValueError, match="float tensor"):
        pipe43((LR * 255).to(torch.uint8), progress=False)
    with pytest.raises(ValueError, match="H x W or H x W x C"):
        pipe43([np.zeros((2, 3, 32, 32))], progress=False)
    with pytest.raises(ValueError, match="got 2 seeds for 3 images"):
        pipe43(LR, seed=[1, 2], progress=False)


def test_geometry_lr_sizes() -> None:
    pipe = tiny_pipeline("medvae-8-1", "unet", "ddim", steps=1)
    with pytest.raises(ValueError, match=r"LR 31x30 x4 gives HR 124x120, not a multiple of .*factor 8.*multiples of 2"):
        pipe(torch.rand(1, 1, 31, 30), progress=False)
    # LR not a multiple of f (lr-latent pads it) and a latent not a multiple of the UNet's (padded, cropped)
    small = tiny_pipeline("medvae-4-1", "unet", "ddim", steps=1, denoiser_config={"preset": "small"})
    assert small.denoiser.size_multiple == 4
    sr = small(torch.rand(1, 1, 34, 18), progress=False)
    assert sr.shape == (1, 1, 136, 72)


def test_lr_latent_padding_matches_the_paper_when_no_padding_is_needed() -> None:
    pipe = tiny_pipeline("medvae-4-1", "unet", "ddim", steps=1)
    lr = torch.rand(1, 1, 32, 32)
    with torch.inference_mode():
        z = pipe.normalize(pipe.encode(lr))
        paper = torch.nn.functional.interpolate(z, size=(32, 32), mode="bilinear", align_corners=False)
        torch.testing.assert_close(pipe.conditioning_latent(lr), paper)


def test_incompatible_components_name_both() -> None:
    den = zoo.build_denoiser("unet", pretrained=False, preset="tiny", latent_channels=4)
    message = r"denoiser 'unet' .* 4 latent channels .* autoencoder 'medvae-4-1' has 1"
    with pytest.raises(CompatibilityError, match=message):
        zoo.build_pipeline("medvae-4-1", den, pretrained=False, vae_config=small_vae_config("medvae-4-1"))
    with pytest.raises(CompatibilityError, match="conditioning must be one of"):
        tiny_pipeline("medvae-4-1", conditioning="nearest")
    with pytest.raises(ValueError, match="pretrained_denoiser=False"):
        zoo.build_pipeline("medvae-4-1", "unet", vae_weights=None, pretrained=False, pretrained_denoiser=True)


def test_measured_latent_stats_normalize_latents(pipe43) -> None:
    gen = torch.Generator().manual_seed(0)
    latents = [torch.randn(4, 3, 8, 8, generator=gen) * torch.tensor([2.0, 5.0, 0.5]).view(1, 3, 1, 1) + 3
               for _ in range(5)]
    stats = measure_latent_stats(iter(latents))  # streamed batch by batch
    z = torch.cat(latents)
    torch.testing.assert_close(stats.mean, z.mean(dim=(0, 2, 3)), atol=1e-5, rtol=0)
    torch.testing.assert_close(stats.std, z.std(dim=(0, 2, 3), correction=0), atol=0, rtol=1e-5)
    normalized = stats.normalize(z)
    torch.testing.assert_close(normalized.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(stats.denormalize(normalized), z, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="std must be > 0"):
        LatentStats(torch.zeros(3), torch.zeros(3))


def test_pipeline_measures_stats_that_standardize_its_latents() -> None:
    pipe = tiny_pipeline("medvae-4-1", "unet", "ddim", steps=1)
    hr = [torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    pipe.latent_stats = pipe.measure_latent_stats(hr)
    with torch.inference_mode():
        z = torch.cat([pipe.target_latent(x) for x in hr])
    torch.testing.assert_close(z.mean(dim=(0, 2, 3)), torch.zeros(1), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.std(dim=(0, 2, 3), correction=0), torch.ones(1), atol=1e-4, rtol=0)


def test_prepare_latents_gives_training_pairs(pipe43) -> None:
    hr, lr = torch.rand(2, 1, 128, 128), torch.rand(2, 1, 32, 32)
    with torch.inference_mode():
        target, cond = pipe43.prepare_latents(hr, lr)
    assert target.shape == cond.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="x4"):
        pipe43.prepare_latents(hr, torch.rand(2, 1, 16, 16))


def _states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) and sa[k].dtype == sb[k].dtype for k in sa)


@pytest.mark.parametrize("denoiser", ["unet", "dit"])
def test_save_load_round_trip_is_bit_exact(tmp_path: Path, denoiser: str) -> None:
    stats = LatentStats(torch.tensor([0.1, -0.2, 0.3]), torch.tensor([1.5, 2.5, 0.7]))
    pipe = tiny_pipeline("medvae-4-3", denoiser, "ddim", steps=3, conditioning="bicubic-latent", residual=True,
                         sampler_config={"eta": 0.3}, latent_stats=stats, schedule="linear")
    pipe.save_pretrained(tmp_path / "p")
    again = zoo.load_pipeline(tmp_path / "p")
    assert _states_equal(pipe.vae, again.vae) and _states_equal(pipe.denoiser, again.denoiser)
    assert again.config() == pipe.config() and again.sampler.config == {"eta": 0.3}
    assert again.denoiser.config == pipe.denoiser.config and again.vae.card.name == "medvae-4-3"
    assert torch.equal(again.latent_stats.std, stats.std)
    torch.testing.assert_close(again(LR, seed=3, progress=False), pipe(LR, seed=3, progress=False), atol=0, rtol=0)


def test_load_checks_shapes_dtypes_and_files(tmp_path: Path, pipe43) -> None:
    folder = tmp_path / "p"
    pipe43.save_pretrained(folder)
    file = folder / "denoiser.safetensors"
    tensors = load_file(str(file))
    key = sorted(tensors)[0]
    save_file({**tensors, key: tensors[key].half()}, str(file))
    with pytest.raises(PipelineFileError, match=rf"denoiser.safetensors: tensor '{key}' is float16 .* expects float32"):
        zoo.load_pipeline(folder)
    save_file({**tensors, key: torch.zeros(3, 3)}, str(file))
    with pytest.raises(PipelineFileError, match=rf"tensor '{key}' is float32 \(3, 3\)"):
        zoo.load_pipeline(folder)
    (folder / "vae" / "diffusion_pytorch_model.safetensors").unlink()  # an AutoencoderKL: diffusers' layout
    save_file(tensors, str(file))
    with pytest.raises(PipelineFileError, match="diffusion_pytorch_model.safetensors: missing"):
        zoo.load_pipeline(folder)
    with pytest.raises(PipelineFileError, match="not a zoo pipeline"):
        zoo.load_pipeline(tmp_path)


def test_saving_writes_nothing_on_failure(tmp_path: Path) -> None:
    den = zoo.build_denoiser("unet", pretrained=False, preset="tiny", latent_channels=1)
    del den.card  # a bare module: its name cannot be recorded
    pipe = zoo.build_pipeline("medvae-4-1", den, pretrained=False, vae_config=small_vae_config("medvae-4-1"))
    with pytest.raises(PipelineFileError, match="without a card"):
        pipe.save_pretrained(tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_export_folder_opens_through_its_backend(tmp_path: Path, pipe43, monkeypatch) -> None:
    from zoo import registry

    monkeypatch.setattr(registry, "_local", {k: list(v) for k, v in registry._local.items()})
    registry.register(BackendCard(name="test-export", factory="tests.pipeline.export_backend:FolderBackend"))
    pipe43.save_pretrained(tmp_path / "exp" / "pipeline")
    (tmp_path / "exp" / "manifest.json").write_text(json.dumps({"backend": "test-export"}))
    opened = zoo.load_pipeline(tmp_path / "exp")
    assert opened.backend.name == "test-export"
    torch.testing.assert_close(opened(LR, seed=1, progress=False), pipe43(LR, seed=1, progress=False))


def test_torch_compile_backend_on_cpu_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="'torch-compile' needs a CUDA device"):
        tiny_pipeline("medvae-4-1", backend="torch-compile")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_compile_backend_matches_eager_on_gpu() -> None:
    eager = tiny_pipeline("medvae-4-3", "unet", "ddim", steps=3, device="cuda")
    compiled = tiny_pipeline("medvae-4-3", "unet", "ddim", steps=3, device="cuda", backend="torch-compile")
    compiled.denoiser.load_state_dict(eager.denoiser.state_dict())
    compiled.vae.load_state_dict(eager.vae.state_dict())
    compiled.build_runtime()  # rebuild the runtime from the copied weights
    lr = LR.cuda()
    for _ in range(2):  # the second call replays the CUDA graphs
        out = compiled(lr, seed=0, progress=False)
    torch.testing.assert_close(out, eager(lr, seed=0, progress=False), atol=2e-2, rtol=0)
