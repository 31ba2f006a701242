"""The plugins of docs/plugins.md (plugins/zoo-example-{ae,denoiser,sampler}), pip-installed, through every
entry point a user has: zoo list, zoo.testing, build_pipeline, save/load, zoo sr, zoo-export, the export."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.foundation.conftest import ROOT, listed, run_python, zoo_cli

WEIGHTS = "package:zoo_example_ae/weights/conv-ae-f8c8.safetensors"


def test_guide_plugins_are_listed_with_their_cards(guide_site):
    components = listed(guide_site)
    ae = components["zoo-example-ae:example-conv-ae"]
    assert ae["error"] is None and ae["kind"] == "autoencoder", ae
    card = ae["card"]
    assert (card["in_channels"], card["latent_channels"], card["downsample_factor"]) == (1, 8, 8)
    assert card["weights"] == WEIGHTS and len(card["sha256"]) == 64
    assert card["source"] == {"url": "https://example.org/zoo-example-ae"} and card["modality"] == ["MR", "CT", "CR"]
    den = components["zoo-example-denoiser:example-resnet"]
    assert den["error"] is None and den["kind"] == "denoiser" and den["card"]["prediction_type"] == "x0"
    sampler = components["zoo-example-sampler:euler-ancestral"]
    assert sampler["error"] is None and sampler["kind"] == "sampler" and sampler["card"]["config"] == {"eta": 1.0}


def test_guide_plugins_conform_and_load_their_packaged_weights(guide_site):
    code = """
import torch, zoo
from zoo.testing import check_autoencoder, check_card, check_denoiser, check_sampler
from zoo.weights import load_state_dict
check_card("example-conv-ae", kind="autoencoder")
check_autoencoder("example-conv-ae")
check_denoiser("example-resnet", latent_channels=8)
check_sampler("euler-ancestral")
check_sampler("euler-ancestral", eta=0.0)
ae = zoo.build_autoencoder("example-conv-ae")                     # pretrained: the packaged, sha256-checked file
packaged = load_state_dict(ae.card.weights)
assert all(torch.equal(v, packaged[k]) for k, v in ae.state_dict().items())
x = torch.rand(1, 1, 32, 32) * 2 - 1
assert torch.equal(ae.encode(x, sample=True), ae.encode(x))        # deterministic: log-variance -inf
try:
    zoo.build_sampler("euler-ancestral", etta=0.5)
except ValueError as err:
    print("REFUSED", err)
print("OK")
"""
    out = run_python(code, guide_site)
    assert out.returncode == 0, out.stderr
    assert "REFUSED sampler 'euler-ancestral' has no option(s) ['etta']" in out.stdout and "OK" in out.stdout


# A documented config override of both the autoencoder (random weights: the packaged ones are width 16)
# and the denoiser must survive save_pretrained, zoo sr, zoo-export and the export's load_pipeline.
OVERRIDES = {"pretrained": False, "vae_config": {"width": 8}, "denoiser_config": {"width": 16, "depth": 1}}


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [{}, OVERRIDES], ids=["card-config", "config-overrides"])
def test_guide_plugins_run_as_a_pipeline_through_sr_and_export(guide_site, tmp_path, overrides):
    run, export, lr_png = tmp_path / "run", tmp_path / "export", tmp_path / "lr" / "knee.png"
    lr_png.parent.mkdir()
    yy, xx = np.mgrid[:16, :16]
    Image.fromarray((127 + 100 * np.sin(xx / 3.0) * np.cos(yy / 5.0)).astype(np.uint8)).save(lr_png)
    build = f"""
import numpy as np, torch, zoo
pipe = zoo.build_pipeline(vae="example-conv-ae", denoiser="example-resnet", sampler="euler-ancestral", steps=3,
                          scale=4, hr_size=64, pretrained_denoiser=False, **{overrides!r})
lr = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
sr = pipe(lr, seed=0)
assert sr.shape == (2, 1, 64, 64)
pipe.save_pretrained({str(run)!r})
again = zoo.load_pipeline({str(run)!r})
assert torch.equal(again(lr, seed=0), sr), "the saved pipeline does not rebuild the same one"
np.save({str(tmp_path / "lr.npy")!r}, lr.numpy()); np.save({str(tmp_path / "sr.npy")!r}, sr.numpy())
"""
    out = run_python(build, guide_site)
    assert out.returncode == 0, out.stderr
    saved = json.loads((run / "vae" / "zoo_autoencoder.json").read_text())
    assert saved["card"]["weights"] == WEIGHTS  # the package: source, not a site-packages path
    assert saved["card"]["config"] == overrides.get("vae_config", {"width": 16})
    denoiser = json.loads((run / "zoo_pipeline.json").read_text())["denoiser"]["config"]
    assert {k: denoiser[k] for k in ("width", "depth")} == overrides.get("denoiser_config", {"width": 32, "depth": 2})
    assert str(guide_site) not in (run / "zoo_pipeline.json").read_text() + json.dumps(saved)

    sr_cli = zoo_cli(["sr", str(lr_png), "--pipeline", str(run), "--out", str(tmp_path / "sr"), "--device", "cpu"],
                     guide_site)
    assert sr_cli.returncode == 0, sr_cli.stderr
    assert Image.open(tmp_path / "sr" / "knee.png").size == (64, 64)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(guide_site), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "zoo_export", "--pipeline", str(run), "--backend", "onnx", "--size", "64",
           "--out", str(export)]
    exported = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert exported.returncode == 0, exported.stderr
    manifest = json.loads((export / "manifest.json").read_text())
    assert set(manifest["stages"]) == {"encoder", "denoiser", "decoder"}

    check = f"""
import numpy as np, torch, zoo
pipe = zoo.load_pipeline({str(export)!r})
sr = pipe(torch.from_numpy(np.load({str(tmp_path / "lr.npy")!r})), seed=0)
ref = torch.from_numpy(np.load({str(tmp_path / "sr.npy")!r}))
print(type(pipe.vae).__name__, float((sr - ref).abs().max()))
"""
    ort = run_python(check, guide_site)
    assert ort.returncode == 0, ort.stderr
    kind, err = ort.stdout.split()
    assert kind == "ExportedAutoencoder" and float(err) < 1e-3, ort.stdout


def test_the_guide_shows_the_plugins_code_as_it_is():
    guide = (ROOT / "docs" / "plugins.md").read_text()
    shown = [
        "plugins/zoo-example-ae/pyproject.toml", "plugins/zoo-example-ae/zoo_example_ae/__init__.py",
        "plugins/zoo-example-ae/zoo_example_ae/model.py",
        "plugins/zoo-example-denoiser/zoo_example_denoiser/__init__.py",
        "plugins/zoo-example-denoiser/zoo_example_denoiser/model.py",
        "plugins/zoo-example-sampler/zoo_example_sampler/__init__.py",
        "plugins/zoo-example-sampler/zoo_example_sampler/sampling.py",
    ]
    for path in shown:
        assert (ROOT / path).read_text().strip() in guide, f"docs/plugins.md does not show {path} as it is"
