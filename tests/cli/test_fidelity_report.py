"""``scripts/fidelity_report.py``: per-image and per-modality scores of zoo, bicubic, Lanczos and the AE ceiling,
read from the bundled held-out split, with zoo eval compare's paired Wilcoxon of zoo vs bicubic."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fidelity_report.py"


def _script():
    spec = importlib.util.spec_from_file_location("fidelity_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fidelity_report_on_the_bundled_split(tiny_pipeline: Path, tmp_path: Path) -> None:
    from zoo.data.pngio import load_unit
    from zoo.evaluate.heldout import held_out, upsample
    from zoo.evaluate.metrics import psnr

    assert _script().main(["--pipeline", str(tiny_pipeline), "--split", "test", "--out", str(tmp_path),
                           "--keep", str(tmp_path / "work")]) == 0
    result = json.loads((tmp_path / "fidelity.json").read_text())
    items = held_out("test")
    assert [r["id"] for r in result["per_image"]] == [i.id for i in items]
    assert set(result["per_modality"]) == {i.modality for i in items} and "unknown" not in result["per_modality"]
    first = items[0]
    hr = load_unit(first.hr).astype(np.float64)
    expected = psnr(upsample(load_unit(first.lr), hr.shape, "bicubic"), hr)
    assert result["per_image"][0]["psnr_bicubic"] == pytest.approx(expected, abs=1e-3)
    assert result["per_image"][0]["psnr_lanczos"] != pytest.approx(expected, abs=1e-3)
    wilcoxon = result["zoo_vs_bicubic"]["psnr"]["wilcoxon"]
    assert 0 <= wilcoxon["p"] <= 1 and result["zoo_vs_bicubic"]["psnr"]["n"] == len(items)
    assert (tmp_path / "work" / "compare-psnr" / "compare.json").is_file()  # the zoo eval compare folder
    md = (tmp_path / "fidelity.md").read_text()
    assert "Wilcoxon" in md and "autoencoder ceiling" in md and first.id in md
    assert len(result["goals"]) == 4
