"""zoo.weights: sources, hub spec parsing, offline cache, sha256 and safe loading."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from tests.fake_hub import fake_hub
from zoo.weights import HFSource, WeightsError, load_state_dict, parse_hf, resolve, sha256_file


class _CreatesFile:
    """Unpickling this calls ``open(target, "w")``: a pickle that runs code."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_parse_hf():
    assert parse_hf("hf:stanfordmimi/MedVAE/model_weights/vae_4x_1c_2D.ckpt@041f23d") == HFSource(
        "stanfordmimi/MedVAE", "model_weights/vae_4x_1c_2D.ckpt", "041f23d")
    assert parse_hf("hf:stabilityai/sd-vae-ft-ema") == HFSource("stabilityai/sd-vae-ft-ema")
    assert str(parse_hf("hf:a/b/c.ckpt@main")) == "hf:a/b/c.ckpt@main"
    for bad in ("hf:onlyowner", "hf:a/b@", "a/b"):
        with pytest.raises(ValueError, match="hf:owner/repo"):
            parse_hf(bad)


def test_pickle_with_code_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "x": _CreatesFile(str(target))}, evil)
    with pytest.raises(WeightsError, match="refusing to load .*evil.ckpt"):
        load_state_dict(evil)
    assert not target.exists()
    # the same file loaded unsafely would create it: the test can fail
    torch.load(evil, weights_only=False)["x"].close()
    assert target.exists()


def test_load_state_dict_formats(tmp_path):
    sd = {"a.weight": torch.randn(3, 2), "b": torch.arange(4)}
    save_file(sd, str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": sd, "epoch": 1}, tmp_path / "w.ckpt")
    torch.save(sd, tmp_path / "w.pt")
    for name in ("w.safetensors", "w.ckpt", "w.pt"):
        out = load_state_dict(tmp_path / name)
        assert out.keys() == sd.keys() and all(torch.equal(out[k], sd[k]) for k in sd)
    torch.save({"a": torch.zeros(1), "n": 3}, tmp_path / "mixed.pt")
    with pytest.raises(WeightsError, match="not tensors: n"):
        load_state_dict(tmp_path / "mixed.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="junk.safetensors"):
        load_state_dict(tmp_path / "junk.safetensors")


def test_missing_file_and_sha256(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        resolve(tmp_path / "nope.ckpt")
    path = tmp_path / "w.pt"
    torch.save({"a": torch.ones(2)}, path)
    digest = sha256_file(path)
    assert resolve(path, sha256=digest) == path
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_state_dict(path, sha256="0" * 64)


def _zoo_in(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (huggingface_hub reads its environment at import) with ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    environ.update(env, HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens there: no network
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=120)


def test_hub_sources_use_the_hub_cache_offline(tmp_path):
    """The cache is huggingface_hub's own (HF_HOME / HF_HUB_CACHE), filled by huggingface_hub from a local hub."""
    import huggingface_hub
    from safetensors.torch import save

    diffusers = {"config.json": b"{}", "diffusion_pytorch_model.safetensors": save({"b": torch.zeros(3)})}
    repos = {"someone/some-vae": {"vae.safetensors": save({"w": torch.ones(2)})}, "someone/diffusers-vae": diffusers}
    cache = tmp_path / "hf-home" / "hub"  # where huggingface_hub puts it for HF_HOME=tmp_path/hf-home
    with fake_hub(repos) as url:
        huggingface_hub.hf_hub_download("someone/some-vae", "vae.safetensors", cache_dir=cache, endpoint=url)
        huggingface_hub.snapshot_download("someone/diffusers-vae", cache_dir=cache, endpoint=url)
    code = (
        "from zoo.weights import load_state_dict, resolve, hub_cache\n"
        "print(hub_cache())\n"
        "print(load_state_dict('hf:someone/some-vae/vae.safetensors')['w'].tolist())\n"
        "print(sorted(p.name for p in resolve('hf:someone/diffusers-vae').iterdir()))\n"
    )
    missing = "resolve('hf:someone/other-vae/vae.safetensors')\n"
    home = str(tmp_path / "hf-home")
    expected = [str(cache), "[1.0, 1.0]", "['config.json', 'diffusion_pytorch_model.safetensors']"]
    no_network = _zoo_in(code, HF_HOME=home)  # not offline mode: cached files are still used first
    assert no_network.stdout.splitlines() == expected, no_network.stderr
    out = _zoo_in(code + missing, HF_HOME=home, HF_HUB_OFFLINE="1")
    assert out.stdout.splitlines() == expected, out.stderr
    assert "WeightsError" in out.stderr and "hf:someone/other-vae/vae.safetensors" in out.stderr
    assert "HF_HUB_OFFLINE is set" in out.stderr and "hf download someone/other-vae vae.safetensors" in out.stderr
    assert f"models--someone--other-vae into {cache}" in out.stderr and "weights=PATH" in out.stderr
    other = _zoo_in(code + missing, HF_HOME=home, HF_HUB_CACHE=str(tmp_path / "elsewhere"), HF_HUB_OFFLINE="1")
    assert other.stdout.splitlines() == [str(tmp_path / "elsewhere")]
    assert "not in the Hugging Face cache" in other.stderr


def test_weights_and_hub_pipelines_say_a_failed_download_in_one_way(tmp_path):
    """Not cached, not offline, no network: weights and hub pipelines fail through the one hub function,
    with the same line (the source, the reason, how to get it)."""
    code = (
        "import sys\n"
        "from zoo.weights import resolve\n"
        "from zoo.pipeline.hub import pipeline_folder\n"
        "for fetch, spec in ((resolve, 'hf:someone/other-vae/vae.safetensors'),\n"
        "                    (pipeline_folder, 'hf:someone/pipe')):\n"
        "    try:\n"
        "        fetch(spec)\n"
        "    except Exception as err:\n"
        "        print(type(err).__name__, str(err).splitlines()[0])\n"
    )
    out = _zoo_in(code, HF_HOME=str(tmp_path / "hf-home"))
    lines = out.stdout.splitlines()
    kinds = [line.split(" ", 1)[0] for line in lines]
    texts = [line.split(" ", 1)[1] for line in lines]
    specs = ("hf:someone/other-vae/vae.safetensors", "hf:someone/pipe")
    if all(": the Hugging Face hub is unreachable (" in text for text in texts):  # no route to the hub: at once
        assert kinds == ["HubUnreachableError", "HubPipelineError"], out.stderr
        for text, spec in zip(texts, specs, strict=True):
            assert text.startswith(f"{spec}: the Hugging Face hub is unreachable ("), text
            assert "set HF_HUB_OFFLINE=1 to use only the cache, or " in text and len(text) < 200, text
    else:  # the hub answered, the download failed
        assert kinds == ["WeightsError", "HubPipelineError"], out.stderr
        for text, spec in zip(texts, specs, strict=True):
            assert text.startswith(f"{spec}: cannot download ("), text
            assert "; no network? " in text and "hf download " in text


def test_package_source_resolves_inside_an_installed_package(tmp_path):
    pkg = tmp_path / "site" / "my_weights_pkg"
    (pkg / "weights").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    save_file({"w": torch.full((2,), 3.0)}, str(pkg / "weights" / "vae.safetensors"))
    code = (
        "from zoo.weights import load_state_dict, resolve\n"
        "print(load_state_dict('package:my_weights_pkg/weights/vae.safetensors')['w'].tolist())\n"
        "print(resolve('package:my_weights_pkg/weights/vae.safetensors'))\n"
        "for bad in ('package:my_weights_pkg/weights/nope.safetensors', 'package:not_installed_pkg/w.safetensors',\n"
        "            'package:my_weights_pkg'):\n"
        "    try:\n        resolve(bad)\n    except Exception as err:\n        print(type(err).__name__, err)\n"
    )
    out = _zoo_in(code, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]))
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stderr
    assert lines[0] == "[3.0, 3.0]" and lines[1] == str(pkg / "weights" / "vae.safetensors")
    assert lines[2].startswith("WeightsError weights not found") and "package-data" in lines[2]
    assert lines[3].startswith("WeightsError") and "'not_installed_pkg' is not installed" in lines[3]
    assert lines[4].startswith("WeightsError") and "package:PACKAGE/path/in/package" in lines[4]
