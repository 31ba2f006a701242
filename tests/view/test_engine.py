"""The viewer's engine and panels without a browser: ``zoo sr``'s files, the --out rules, windows, metrics."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.view.conftest import png16
from zoo.app import display
from zoo.app.engine import Engine, RunSettings, ViewError
from zoo.app.page import PANELS, render
from zoo.data.samples import prepared_samples

FAST = RunSettings(self_ensemble=1)  # one SR pass: no spread, so no uncertainty map


def _zoo_sr(tmp_path, source, *options):
    from click.testing import CliRunner

    from zoo.cli import main

    out = tmp_path / "zoo-sr"
    done = CliRunner().invoke(main, ["sr", str(source), "--out", str(out), "-q", *options])
    assert done.exit_code == 0, done.output
    return out


@pytest.mark.slow
def test_a_run_writes_what_zoo_sr_writes_and_hides_the_map_it_cannot_give(tmp_path):
    engine = Engine(tmp_path / "scratch", out=tmp_path / "out")
    (tmp_path / "scratch").mkdir()
    result = engine.run(png16(), FAST, progress=False)
    want = _zoo_sr(tmp_path, png16(), "--self-ensemble", "1") / png16().name
    assert result.output.read_bytes() == want.read_bytes()
    assert result.uncertainty is None and result.uncertainty_map is None
    assert result.sr.shape[1:] == (result.lr.shape[1] * result.scale, result.lr.shape[2] * result.scale)
    panels = render(result, 0, display.MIN_MAX, PANELS[0], PANELS[2])
    assert panels[3] is None  # no uncertainty panel
    assert panels[0].shape == panels[1].shape == panels[2].shape == result.sr.shape[1:]


@pytest.mark.slow  # loads the embedded default (seconds on a loaded 2-core machine)
def test_out_keeps_an_existing_output_unless_overwrite(tmp_path):
    (tmp_path / "scratch").mkdir()
    out = tmp_path / "out"
    Engine(tmp_path / "scratch", out=out).run(png16(), FAST, progress=False)
    before = (out / png16().name).read_bytes()
    with pytest.raises(ViewError, match=f"already holds {png16().name}.*--overwrite"):
        Engine(tmp_path / "scratch", out=out).run(png16(), RunSettings(self_ensemble=1, seed=5), progress=False)
    assert (out / png16().name).read_bytes() == before
    Engine(tmp_path / "scratch", out=out, overwrite=True).run(png16(), RunSettings(self_ensemble=1, seed=5),
                                                              progress=False)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(["manifest.csv", png16().name])


@pytest.mark.slow  # loads the embedded default (seconds on a loaded 2-core machine)
def test_a_reference_gives_psnr_ssim_and_the_error_map(tmp_path):
    (tmp_path / "scratch").mkdir()
    lr = png16()
    hr = prepared_samples() / "hr" / lr.name
    result = Engine(tmp_path / "scratch", references={lr.resolve(): hr}).run(lr, FAST, progress=False)
    panels = render(result, 0, display.MIN_MAX, PANELS[2], PANELS[4])
    assert panels[6] is not None and panels[7] is not None  # error map, HR
    assert panels[8].startswith("Slice 0: SR: PSNR ") and "bicubic: PSNR" in panels[8]


def test_a_bad_pipeline_choice_is_one_line(tmp_path):
    with pytest.raises(ViewError) as caught:
        Engine(tmp_path).pipeline(RunSettings(pipeline=str(tmp_path / "nowhere")))
    assert "cannot load the pipeline" in str(caught.value) and "\n" not in str(caught.value)


def test_window_presets():
    ramp = np.linspace(-1000, 2000, 64).reshape(8, 8)
    assert display.presets_for("CT", (40.0, 400.0))[:2] == [display.MIN_MAX, display.VOI]
    assert display.presets_for("MR", None) == [display.MIN_MAX]
    assert display.window_for(display.VOI, ramp, (40.0, 400.0)) == (-160.0, 240.0)
    assert display.window_for("CT lung", ramp, None) == (-1350.0, 150.0)
    assert display.window_for(display.MIN_MAX, ramp, None) == (-1000.0, 2000.0)
    shown = display.display_image(ramp, (-160.0, 240.0))
    assert shown.dtype == np.uint8 and shown.min() == 0 and shown.max() == 255


def test_bicubic_and_nearest_panels_match_pil():
    lr = np.random.default_rng(0).uniform(0, 255, (9, 7))
    near = display.nearest_zoom(lr, 4)
    assert near.shape == (36, 28) and np.array_equal(near[::4, ::4], lr)
    pil = np.asarray(Image.fromarray(lr.astype(np.float32), mode="F").resize((28, 36), Image.BICUBIC))
    assert np.abs(display.bicubic(lr, 4) - pil).max() < 1e-2
