import numpy as np
import pytest

from zoo.evaluate.evaluation import evaluate_folders
from zoo.evaluate.images import read_image
from zoo.evaluate.metrics import psnr
from zoo.evaluate.pairing import PairingError, image_set, pair_ids

from .helpers import make_dataset, save_png16, smooth_image, write_manifest


def test_missing_ids_are_listed(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):
        save_png16(tmp_path / "ref" / f"img_{i}.png", smooth_image(rng, 16))
    for i in range(2, 9):
        save_png16(tmp_path / "pred" / f"img_{i}.png", smooth_image(rng, 16))
    with pytest.raises(PairingError) as err:
        pair_ids(image_set(tmp_path / "pred"), image_set(tmp_path / "ref"))
    message = str(err.value)
    assert "2 id(s) missing from pred" in message and "img_0, img_1" in message
    assert "1 id(s) missing from ref" in message and "img_8" in message


def test_manifest_ids_win_over_file_names_and_sort_order(tmp_path):
    """Output files named so that sorting by name would mis-pair them; the manifest maps them by id."""
    pred, ref = make_dataset(tmp_path, n=4, size=32, seed=1)
    # rename outputs to names whose sorted order is the reverse of the ids, and record that in the manifest
    rows = []
    for i in range(4):
        ident = f"case_{i:02d}"
        new = pred / f"out_{3 - i}.png"
        (pred / f"{ident}.png").rename(new)
        rows.append([ident, "", new.name])
    write_manifest(pred, ["id", "input", "output"], rows)
    result = evaluate_folders(pred, ref)
    for record in result["per_image"]:
        ident = record["id"]
        expected = psnr(read_image(pred / f"out_{3 - int(ident[-2:])}.png"), read_image(ref / "hr" / f"{ident}.png"))
        assert record["psnr"] == pytest.approx(expected, abs=1e-12)
    assert result["pairing"]["pred"] == "manifest.csv:output" and result["pairing"]["ref"] == "manifest.csv:hr"
    assert {r["subject"] for r in result["per_image"]} == {"subj0", "subj1", "subj2"}


def test_duplicate_stems_are_an_error(tmp_path):
    img = smooth_image(np.random.default_rng(0), 16)
    save_png16(tmp_path / "a.png", img)
    save_png16(tmp_path / "a.tif", img)
    with pytest.raises(PairingError, match="share the id 'a'"):
        image_set(tmp_path)


def test_size_mismatch_names_the_file(tmp_path):
    rng = np.random.default_rng(0)
    save_png16(tmp_path / "ref" / "x.png", smooth_image(rng, 32))
    save_png16(tmp_path / "pred" / "x.png", smooth_image(rng, 16))
    with pytest.raises(ValueError, match="x.png: size"):
        evaluate_folders(tmp_path / "pred", tmp_path / "ref")
