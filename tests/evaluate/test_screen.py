import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats as sps

from zoo.cli import main
from zoo.evaluate.report import write_json
from zoo.evaluate.screen import resolve_vaes

from .helpers import save_png16, smooth_image


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    root = tmp_path_factory.mktemp("scans")
    rng = np.random.default_rng(0)
    for i in range(3):
        save_png16(root / f"scan_{i}.png", smooth_image(rng, 32))
    return root


def test_resolve_patterns(tiny_vaes):
    assert resolve_vaes("evaltest-*") == ["evaltest-a", "evaltest-b", "evaltest-c"]
    assert resolve_vaes("medvae,evaltest-c, medvae-4-3") == ["medvae-4-3", "evaltest-c"]
    with pytest.raises(ValueError, match="no registered autoencoder matches"):
        resolve_vaes("nothing-*")


def test_screen_ranks_three_vaes(scans, tiny_vaes, tmp_path):
    out = tmp_path / "screen"
    res = CliRunner().invoke(main, ["screen", "--data", str(scans), "--vae", "evaltest-*", "--untrained",
                                    "--limit", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split()[:2] == ["rank", "vae"] and len([ln for ln in lines if "evaltest-" in ln]) == 3
    result = json.loads((out / "screen.json").read_text())
    rows = result["rows"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert sorted(r["vae"] for r in rows) == tiny_vaes
    assert [r["psnr"] for r in rows] == sorted((r["psnr"] for r in rows), reverse=True)
    for r in rows:
        assert r["n_images"] == 2 and len(r["latent_stats"]["mean"]) == r["latent_channels"]
        assert r["encode_ms_per_image"] > 0 and r["decode_ms_per_image"] > 0
        assert "band_psnr_HH1" in r["summary"]
    assert (out / "screen.md").stat().st_size > 0 and (out / "screen.png").stat().st_size > 0


def test_an_identity_autoencoder_ranks_first(scans, tiny_vaes):
    from zoo.cards import AutoencoderCard
    from zoo.evaluate.screen import screen
    from zoo.registry import register

    register(AutoencoderCard(name="evalident", factory="tests.evaluate.helpers:build_identity_autoencoder",
                             in_channels=1, latent_channels=1, downsample_factor=1, intensity="minmax"), override=True)
    result = screen(scans, "evaltest-c,evalident", untrained=True, limit=2)
    top = result["rows"][0]
    assert top["vae"] == "evalident" and top["psnr"] > 100 and top["ssim"] == pytest.approx(1.0)


def test_screen_fits_the_sr_regression(scans, tiny_vaes, tmp_path):
    sr_psnr = {"evaltest-a": 24.1, "evaltest-b": 26.3, "evaltest-c": 22.0}
    reports = []
    for name, value in sr_psnr.items():
        path = tmp_path / f"{name}.json"
        write_json(path, {"vae": name, "summary": {"psnr": {"mean": value, "std": 1.0, "n": 10}}})
        reports += ["--sr-results", str(path)]
    res = CliRunner().invoke(main, ["screen", "--data", str(scans), "--vae", "evaltest-*", "--untrained",
                                    "--limit", "2", "--json", *reports])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    recon = {r["vae"]: r["psnr"] for r in result["rows"]}
    fit = result["regression"]
    names = [p["vae"] for p in fit["points"]]
    r, p = sps.pearsonr([recon[n] for n in names], [sr_psnr[n] for n in names])
    assert fit["n"] == 3 and fit["r"] == pytest.approx(r) and fit["p"] == pytest.approx(p)


def test_screen_reports_missing_weights(scans):
    res = CliRunner().invoke(main, ["screen", "--data", str(scans), "--vae", "kl-f4"])
    assert res.exit_code == 2 and "kl-f4" in res.output and "weights" in res.output


def test_screen_loads_weights_and_skips_a_vae_without_any(scans, tiny_vaes, tmp_path):
    import torch

    from zoo.autoencoders.loading import save_autoencoder
    from zoo.evaluate.metrics import psnr
    from zoo.evaluate.reconstruct import load_autoencoder, round_trip
    from zoo.evaluate.screen import load_images

    torch.manual_seed(0)
    saved = save_autoencoder(load_autoencoder("evaltest-a", untrained=True), tmp_path / "vae_a")
    res = CliRunner().invoke(main, ["screen", "--data", str(scans), "--vae", "evaltest-a,evaltest-c", "--limit", "2",
                                    "--weights", f"evaltest-a={saved}", "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output[res.output.index("{"):])
    assert [r["vae"] for r in result["rows"]] == ["evaltest-a"]
    assert "evaltest-c" in result["failed"] and "weights" in result["failed"]["evaltest-c"]
    ae = load_autoencoder("evaltest-a", weights=str(saved))
    images = load_images(scans, limit=2)
    expected = np.mean([psnr(round_trip(ae, im[None]).recon[0], im) for im in images.values()])
    assert result["rows"][0]["psnr"] == pytest.approx(expected, abs=1e-9)


def test_architecture_overrides_reach_every_vae(scans, tiny_vaes):
    from zoo.evaluate.screen import screen

    result = screen(scans, "evaltest-a", untrained=True, limit=1, overrides={"latent_channels": 2})
    row = result["rows"][0]
    assert row["latent_channels"] == 2 and len(row["latent_stats"]["std"]) == 2
