"""Pipeline folders the ecosystem reads: diffusers' vae/ layout, the model card, and ``load_pipeline("hf:...")``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import zoo
from tests.fake_hub import fake_hub
from zoo.pipeline.model_card import ModelCardError, front_matter

LR = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
VAE_FILES = ["config.json", "diffusion_pytorch_model.safetensors", "zoo_autoencoder.json"]
REPO = Path(__file__).resolve().parents[2]


def _kl_pipeline():
    """A random narrowed zoo-demo-f4 (a diffusers AutoencoderKL) + tiny UNet, 1-step DDIM, LR 16 -> HR 64."""
    return zoo.build_pipeline(
        vae="zoo-demo-f4", denoiser="unet", sampler="ddim", steps=1, pretrained=False, hr_size=64,
        conditioning="bicubic-latent", residual=True,
        vae_config={"block_out_channels": [8, 8, 16], "norm_num_groups": 4}, denoiser_config={"preset": "tiny"},
    )


@pytest.fixture(scope="module")
def kl_pipe():
    return _kl_pipeline()


@pytest.fixture(scope="module")
def run(kl_pipe, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hub") / "run"
    kl_pipe.save_pretrained(folder, metrics={"psnr": 30.25, "ssim": 0.875}, training_data="ten test slices")
    return folder


def test_vae_is_what_diffusers_writes_and_opens(kl_pipe, run: Path, tmp_path: Path) -> None:
    from diffusers import AutoencoderKL

    assert sorted(p.name for p in (run / "vae").iterdir()) == VAE_FILES
    kl_pipe.vae.vae.save_pretrained(tmp_path / "diffusers")  # diffusers' own writer, for comparison
    for name in VAE_FILES[:2]:
        assert (run / "vae" / name).read_bytes() == (tmp_path / "diffusers" / name).read_bytes(), name
    vae = AutoencoderKL.from_pretrained(run, subfolder="vae").eval()
    z = torch.randn(2, 8, 6, 5, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = vae.decode(z).sample
    ours = zoo.load_pipeline(run).vae.decode_latent(z)
    assert theirs.shape == (2, 1, 24, 20)
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)
    torch.testing.assert_close(theirs, kl_pipe.vae.decode_latent(z), atol=1e-5, rtol=0)


def test_a_saved_folder_gives_the_same_sr(kl_pipe, run: Path) -> None:
    again = zoo.load_pipeline(run)
    assert again.vae.card.name == "zoo-demo-f4" and again.vae.card.intensity == kl_pipe.vae.card.intensity
    torch.testing.assert_close(again(LR, seed=2, progress=False), kl_pipe(LR, seed=2, progress=False), atol=0, rtol=0)


def test_the_old_layout_still_opens(kl_pipe, run: Path, tmp_path: Path) -> None:
    """A pipeline whose vae/ is zoo's autoencoder.safetensors (as written before) opens the same."""
    import shutil

    from zoo.autoencoders.saved import save_autoencoder

    old = tmp_path / "old"
    shutil.copytree(run, old)
    shutil.rmtree(old / "vae")
    save_autoencoder(kl_pipe.vae, old / "vae")
    data = json.loads((old / "zoo_pipeline.json").read_text())
    data["tensors"]["vae/autoencoder.safetensors"] = data["tensors"].pop("vae/diffusion_pytorch_model.safetensors")
    (old / "zoo_pipeline.json").write_text(json.dumps(data))
    assert sorted(p.name for p in (old / "vae").iterdir()) == ["autoencoder.safetensors", "zoo_autoencoder.json"]
    torch.testing.assert_close(zoo.load_pipeline(old)(LR, seed=2, progress=False),
                               kl_pipe(LR, seed=2, progress=False), atol=0, rtol=0)


def test_a_non_kl_autoencoder_keeps_zoos_layout(tmp_path: Path) -> None:
    pipe = zoo.build_pipeline("zoo-s2d-f4", "unet", "ddim", steps=1, pretrained=False, hr_size=64,
                              denoiser_config={"preset": "tiny"})
    pipe.save_pretrained(tmp_path / "p")
    assert sorted(p.name for p in (tmp_path / "p" / "vae").iterdir()) == ["autoencoder.safetensors",
                                                                          "zoo_autoencoder.json"]
    card = front_matter((tmp_path / "p" / "README.md").read_text())
    assert card["zoo"]["components"]["autoencoder"]["layout"] == "zoo"
    torch.testing.assert_close(zoo.load_pipeline(tmp_path / "p")(LR, seed=0, progress=False),
                               pipe(LR, seed=0, progress=False), atol=0, rtol=0)


# --- model card -------------------------------------------------------------------------------------


def test_the_model_card_is_generated_and_parses(kl_pipe, run: Path) -> None:
    import yaml
    from huggingface_hub import ModelCard

    from zoo.weights import sha256_file

    text = (run / "README.md").read_text()
    meta = front_matter(text)
    assert meta == yaml.safe_load(text.split("---\n")[1])
    assert meta["license"] == "mit" and meta["library_name"] == "zoo"
    assert meta["tags"] == ["medical-imaging", "super-resolution", "zoo", "latent-diffusion"]
    parts = meta["zoo"]["components"]
    assert {k: (v["name"], v["version"]) for k, v in parts.items()} == {
        "autoencoder": ("zoo-demo-f4", "1"), "denoiser": ("unet", "1"), "sampler": ("ddim", "1")}
    assert parts["autoencoder"]["weights"] == "untrained (random initialisation, pretrained=False)"  # not the card's
    assert parts["autoencoder"]["layout"] == "diffusers AutoencoderKL"
    assert parts["sampler"]["source"] == dict(zoo.get_card("sampler", "ddim").source)
    assert meta["zoo"]["files"] == {name: sha256_file(run / name) for name in
                                    ("denoiser.safetensors", "vae/diffusion_pytorch_model.safetensors")}
    assert meta["zoo"]["training_data"] == "ten test slices" and meta["zoo"]["metrics"] == {"psnr": 30.25,
                                                                                          "ssim": 0.875}
    card = ModelCard.load(run / "README.md")  # the hub's own parser
    assert card.data.license == "mit" and card.data.library_name == "zoo"
    assert {(r.metric_type, r.metric_value) for r in card.data.eval_results} == {("psnr", 30.25), ("ssim", 0.875)}
    assert 'zoo.load_pipeline("hf:OWNER/REPO")' in card.text
    assert 'AutoencoderKL.from_pretrained("OWNER/REPO", subfolder="vae")' in card.text


def test_the_embedded_default_card_names_its_data_and_measured_metrics(tmp_path: Path) -> None:
    from zoo.assets import DEFAULT_PIPELINE_DIR

    report = REPO / "benchmarks" / "results" / "fidelity.json"
    pipe = zoo.load_pipeline(DEFAULT_PIPELINE_DIR)
    pipe.save_pretrained(tmp_path / "d", metrics=report if report.is_file() else None)
    meta = front_matter((tmp_path / "d" / "README.md").read_text())
    assert "zoo/assets/samples" in meta["zoo"]["training_data"]
    if report.is_file():
        assert meta["zoo"]["metrics"]["psnr"] == json.loads(report.read_text())["overall"]["psnr_zoo"]
        assert "test split" in meta["model-index"][0]["results"][0]["dataset"]["name"]


def test_metrics_that_cannot_be_recorded_are_refused(kl_pipe, tmp_path: Path) -> None:
    with pytest.raises(ModelCardError, match=r"metrics: 'psnr': expected a name and a number"):
        kl_pipe.save_pretrained(tmp_path / "a", metrics={"psnr": "high"})
    report = {"overall": {"psnr_zoo": 30.0, "n": 3}, "pipeline_sha256": {"denoiser.safetensors": "0123456789abcdef"}}
    with pytest.raises(ModelCardError, match="measured on other weights"):
        kl_pipe.save_pretrained(tmp_path / "b", metrics=report)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --- hf: --------------------------------------------------------------------------------------------


def _repo_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _load_in(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (huggingface_hub reads its environment at import)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    environ.setdefault("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: no network
    environ.update(env, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=300)


_LOAD = (
    "import torch, zoo\n"
    "lr = torch.load({lr!r}, weights_only=True)\n"
    "for i, spec in enumerate({specs!r}):\n"
    "    try:\n"
    "        torch.save(zoo.load_pipeline(spec)(lr, seed=2, progress=False), f'{out}/{{i}}.pt')\n"
    "        print('ok', spec)\n"
    "    except Exception as err:\n"
    "        print(type(err).__name__, err)\n"
)


def _outputs(tmp_path: Path, specs: list[str], **env: str) -> list[str]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    torch.save(LR, tmp_path / "lr.pt")
    proc = _load_in(_LOAD.format(lr=str(tmp_path / "lr.pt"), specs=specs, out=out), **env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_load_pipeline_from_the_hub_cache_offline(kl_pipe, run: Path, tmp_path: Path) -> None:
    import huggingface_hub

    cache = tmp_path / "hf-home" / "hub"
    commit = "c0ffee" * 6 + "c0ff"
    files = _repo_files(run)
    files.update({f"runs/best/{name}": data for name, data in _repo_files(run).items()})  # one in a subfolder
    with fake_hub({"someone/sr-pipe": files}, commit=commit) as url:
        huggingface_hub.snapshot_download("someone/sr-pipe", cache_dir=cache, endpoint=url)
        huggingface_hub.snapshot_download("someone/sr-pipe", revision="v1", cache_dir=cache, endpoint=url)
    assert (cache / "models--someone--sr-pipe" / "snapshots" / commit / "denoiser.safetensors").is_symlink()
    specs = ["hf:someone/sr-pipe", "hf:someone/sr-pipe@v1", f"hf:someone/sr-pipe@{commit}",
             "hf:someone/sr-pipe/runs/best@v1", "hf:someone/missing"]
    lines = _outputs(tmp_path, specs, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1")
    assert lines[:4] == [f"ok {s}" for s in specs[:4]], lines
    expected = kl_pipe(LR, seed=2, progress=False)
    for i in range(4):
        torch.testing.assert_close(torch.load(tmp_path / "out" / f"{i}.pt", weights_only=True), expected,
                                   atol=0, rtol=0)
    assert len(lines) == 5 and lines[4].startswith("HubPipelineError hf:someone/missing: not in the Hugging Face "
                                                    f"cache ({cache}) and HF_HUB_OFFLINE is set"), lines
    assert "hf download someone/missing" in lines[4] and "models--someone--missing" in lines[4]
    _zoo_sr_from_the_hub(tmp_path, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1")


def _zoo_sr_from_the_hub(tmp_path: Path, **env: str) -> None:
    """``zoo sr --pipeline hf:...`` runs a cached hub pipeline; a missing one is one line, exit code 2."""
    import numpy as np

    np.save(tmp_path / "scan.npy", LR[0, 0].numpy())
    code = "import sys; from zoo.cli import main; main(sys.argv[1:])"
    args = ["sr", str(tmp_path / "scan.npy"), "--device", "cpu", "--pipeline"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    environ.update(env, HF_ENDPOINT="http://127.0.0.1:9",
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    ok = subprocess.run([sys.executable, "-c", code, *args, "hf:someone/sr-pipe@v1", "--out", str(tmp_path / "sr")],
                        capture_output=True, text=True, env=environ, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert [p.name for p in (tmp_path / "sr").iterdir() if p.suffix == ".npy"] == ["scan.npy"]
    missing = subprocess.run([sys.executable, "-c", code, *args, "hf:someone/missing", "--out", str(tmp_path / "x")],
                             capture_output=True, text=True, env=environ, timeout=300)
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0, missing.stderr
    assert "hf:someone/missing: not in the Hugging Face cache" in missing.stderr


def test_load_pipeline_downloads_when_not_cached(kl_pipe, run: Path, tmp_path: Path) -> None:
    """Not in the cache and not offline: huggingface_hub downloads it (from a hub served on localhost)."""
    with fake_hub({"someone/sr-pipe": _repo_files(run)}) as url:
        lines = _outputs(tmp_path, ["hf:someone/sr-pipe", "hf:someone/missing"], HF_HOME=str(tmp_path / "hf"),
                         HF_ENDPOINT=url)
    assert lines[0] == "ok hf:someone/sr-pipe", lines
    torch.testing.assert_close(torch.load(tmp_path / "out" / "0.pt", weights_only=True),
                               kl_pipe(LR, seed=2, progress=False), atol=0, rtol=0)
    assert lines[1].startswith("HubPipelineError hf:someone/missing: cannot download"), lines
    assert len(lines) == 2 and "hf download someone/missing" in lines[1]
    assert (tmp_path / "hf" / "hub" / "models--someone--sr-pipe" / "snapshots").is_dir()


def test_a_malformed_hub_id_is_one_line() -> None:
    from zoo.pipeline.hub import HubPipelineError

    with pytest.raises(HubPipelineError, match=r"expected 'hf:owner/repo\[@revision\]'"):
        zoo.load_pipeline("hf:only-owner")


@pytest.mark.slow
def test_zoo_demo_runs_a_pipeline_from_the_hub_cache(run: Path, tmp_path: Path) -> None:
    """``zoo demo --pipeline hf:...`` (offline, from a hub cache made by huggingface_hub) gives the same figures
    as ``zoo demo --pipeline DIR`` of the same folder."""
    import json

    import huggingface_hub

    cache = tmp_path / "hf-home" / "hub"
    with fake_hub({"someone/sr-pipe": _repo_files(run)}) as url:
        huggingface_hub.snapshot_download("someone/sr-pipe", cache_dir=cache, endpoint=url)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    environ.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1",
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    code = "import sys; from zoo.cli import main; main(sys.argv[1:])"
    summaries = []
    for source in ("hf:someone/sr-pipe", str(run)):
        proc = subprocess.run([sys.executable, "-c", code, "demo", "--pipeline", source, "--device", "cpu", "--json",
                               "--out", str(tmp_path / f"demo{len(summaries)}")],
                              capture_output=True, text=True, env=environ, timeout=600)
        assert proc.returncode == 0, proc.stderr
        summaries.append(json.loads(proc.stdout))
    assert summaries[0]["psnr_zoo"] == summaries[1]["psnr_zoo"]


def _hub_cache_with_moved(tmp_path: Path, run: Path, moved: str, monkeypatch) -> tuple[Path, Path]:
    """A hub cache laid out by huggingface_hub itself, whose repository ``moved`` entry (``blobs`` or
    ``snapshots``) is then moved outside the cache and replaced by a symlink to it; returns (cache, outside)."""
    import huggingface_hub
    from huggingface_hub import constants

    cache = tmp_path / "hf-home" / "hub"
    with fake_hub({"someone/sr-pipe": _repo_files(run)}) as url:
        huggingface_hub.snapshot_download("someone/sr-pipe", cache_dir=cache, endpoint=url)
    repo = cache / "models--someone--sr-pipe"
    outside = tmp_path / "elsewhere" / moved
    outside.parent.mkdir()
    os.replace(repo / moved, outside)
    (repo / moved).symlink_to(outside, target_is_directory=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache, outside


def test_a_hub_cache_whose_blobs_link_outside_is_refused(run: Path, tmp_path: Path, monkeypatch) -> None:
    from zoo.pipeline.hub import HubPipelineError

    _, outside = _hub_cache_with_moved(tmp_path, run, "blobs", monkeypatch)
    with pytest.raises(HubPipelineError) as info:
        zoo.load_pipeline("hf:someone/sr-pipe")
    message = str(info.value)
    assert "\n" not in message and "refusing to open it" in message and str(outside) in message


def test_a_blob_that_is_a_link_out_of_the_cache_is_refused(run: Path, tmp_path: Path, monkeypatch) -> None:
    from zoo.folders.paths import FolderPathError

    cache, _ = _hub_cache_with_moved(tmp_path, run, "refs", monkeypatch)  # refs/ moved: harmless, still a cache
    snapshot = next((cache / "models--someone--sr-pipe" / "snapshots").iterdir())
    blob = (snapshot / "denoiser.safetensors").resolve()
    elsewhere = tmp_path / "elsewhere" / "weights.safetensors"
    os.replace(blob, elsewhere)
    blob.symlink_to(elsewhere)  # snapshot file -> blobs/<sha> -> outside: the chain leaves the cache
    with pytest.raises(FolderPathError, match="denoiser"):
        zoo.load_pipeline("hf:someone/sr-pipe")
    os.replace(elsewhere, blob)  # the same cache without the detour opens
    assert zoo.load_pipeline("hf:someone/sr-pipe") is not None
