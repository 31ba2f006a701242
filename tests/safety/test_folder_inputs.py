"""Issue #26: a shared folder is data: it never names weights or code, never hangs, never crashes zoo.

Each test tampers with a copy of a tiny saved pipeline the way the bad-input sweep did and requires a
one-line :class:`~zoo.errors.ZooError` (``zoo sr``: exit 2) naming the file and the field.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import zoo
from tests.cli_checks import one_error_line
from tests.safety.hang import within
from zoo.errors import ZooError

PIPE = "zoo_pipeline.json"
CARD = "vae/zoo_autoencoder.json"
CONFIG = "vae/config.json"


def _edit(folder: Path, name: str, change) -> None:
    path = folder / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _refused(folder: Path, *words: str) -> str:
    with pytest.raises(ZooError) as info:
        zoo.load_pipeline(folder)
    message = str(info.value)
    assert "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


def _foreign_weights(pipeline: Path) -> Path:
    """The pipeline's own denoiser weights, copied outside the folder (they would load silently)."""
    outside = pipeline.parent / "elsewhere.safetensors"
    shutil.copyfile(pipeline / "denoiser.safetensors", outside)
    return outside


# --- 1. component configs are architecture only -------------------------------------------------------


@pytest.mark.parametrize("key, value", [
    ("weights", "/etc/passwd"), ("weights", "/dev/zero"), ("weights", "hf:someone/weights"), ("weights", "FOREIGN"),
    ("pretrained", True), ("pretrained_path", "x"), ("cache_dir", "c"), ("trust_remote_code", True),
    ("factory", "os:system"), ("unet_path", "u"), ("url", "https://example.org/w.ckpt"),
])
def test_a_denoiser_config_naming_a_file_or_source_is_refused(pipeline_copy: Path, key: str, value) -> None:
    value = str(_foreign_weights(pipeline_copy)) if value == "FOREIGN" else value
    _edit(pipeline_copy, PIPE, lambda d: d["denoiser"]["config"].update({key: value}))
    _refused(pipeline_copy, str(pipeline_copy / PIPE), f"denoiser.config.{key}", "architecture only")


@pytest.mark.parametrize("value", ["/etc/passwd", "../elsewhere.safetensors", "hf:someone/repo", "os:system",
                                   "C:\\weights.bin", "weights.safetensors", "~/w"])
def test_a_path_shaped_value_in_a_component_config_is_refused(pipeline_copy: Path, value: str) -> None:
    _edit(pipeline_copy, PIPE, lambda d: d["denoiser"]["config"].update(preset=value))
    _refused(pipeline_copy, "denoiser.config.preset", "looks like a path")


@pytest.mark.parametrize("file, section", [(PIPE, "sampler"), (CARD, "card"), (CONFIG, None)])
def test_sampler_autoencoder_and_diffusers_configs_are_architecture_only(pipeline_copy: Path, file: str,
                                                                         section: str | None) -> None:
    def plant(data: dict) -> None:
        target = data if section is None else data[section].setdefault("config", {})
        target["weights"] = "/etc/passwd"

    _edit(pipeline_copy, file, plant)
    _refused(pipeline_copy, str(pipeline_copy / file), "weights", "architecture only")


def test_a_foreign_weight_file_never_loads_through_a_config(pipeline_copy: Path, saved_pipeline: Path) -> None:
    """Control for the test above: the same folder without the planted key opens (the key alone is refused)."""
    assert zoo.load_pipeline(saved_pipeline).steps == 1
    outside = _foreign_weights(pipeline_copy)
    _edit(pipeline_copy, PIPE, lambda d: d["denoiser"]["config"].update(weights=str(outside)))
    _refused(pipeline_copy, "denoiser.config.weights")


# --- 2. no hangs: special files, sizes, unbounded options ---------------------------------------------


@pytest.mark.parametrize("name", [CONFIG, CARD, PIPE, "denoiser.safetensors",
                                  "vae/diffusion_pytorch_model.safetensors"])
def test_a_fifo_in_a_folder_is_refused_without_blocking(pipeline_copy: Path, name: str) -> None:
    fifo = pipeline_copy / name
    fifo.unlink()
    os.mkfifo(fifo)
    error = within(20, lambda: zoo.load_pipeline(pipeline_copy), [fifo])
    assert isinstance(error, ZooError) and "\n" not in str(error), error
    assert name.split("/")[-1] in str(error) and "not a regular file" in str(error), error


def test_a_huge_or_deeply_nested_json_is_refused_before_parsing(pipeline_copy: Path) -> None:
    from zoo.folders.schema import MAX_JSON_BYTES

    (pipeline_copy / PIPE).write_text("[" * 200_000 + "]" * 200_000)
    _refused(pipeline_copy, "nested 200000 levels deep")
    (pipeline_copy / PIPE).write_bytes(b" " * (MAX_JSON_BYTES + 1))
    _refused(pipeline_copy, "bytes, more than the")


@pytest.mark.parametrize("key, value, expected", [
    ("data_consistency", 10**9, "data_consistency: expected at most 100, got 1000000000"),
    ("steps", 10**9, "steps: expected at most 10000"),
    ("scale", 4096, "scale: expected at most 16"),
    ("self_ensemble", 64, "self_ensemble: expected at most 8"),
])
def test_numeric_options_have_an_upper_bound(pipeline_copy: Path, key: str, value: int, expected: str) -> None:
    _edit(pipeline_copy, PIPE, lambda d: d.update({key: value}))
    _refused(pipeline_copy, str(pipeline_copy / PIPE), expected)


def test_schedule_and_architecture_sizes_have_bounds(pipeline_copy: Path, saved_pipeline: Path) -> None:
    _edit(pipeline_copy, PIPE, lambda d: d["schedule"].update(num_timesteps=10**12))
    _refused(pipeline_copy, "schedule.num_timesteps: expected at most")
    shutil.copyfile(saved_pipeline / PIPE, pipeline_copy / PIPE)
    _edit(pipeline_copy, PIPE, lambda d: d["denoiser"]["config"].update(block_out_channels=[10**6, 8]))
    _refused(pipeline_copy, "denoiser.config.block_out_channels[0]: expected an integer 1..8192")


# --- 3. values that used to raise deep inside zoo ------------------------------------------------------


@pytest.mark.parametrize("eta, expected", [("x", "option eta: expected float, got 'x'"),
                                           (5, "option eta: expected a number in 0.0..1.0"),
                                           (None, "option eta: expected float")])
def test_a_wrong_sampler_option_is_one_line_when_opening(pipeline_copy: Path, eta, expected: str) -> None:
    _edit(pipeline_copy, PIPE, lambda d: d["sampler"]["config"].update(eta=eta))
    _refused(pipeline_copy, "sampler.config", expected)


def test_zoo_sr_refuses_a_wrong_sampler_option_before_any_file(pipeline_copy: Path, tmp_path: Path) -> None:
    _edit(pipeline_copy, PIPE, lambda d: d["sampler"]["config"].update(eta="x"))
    image = tmp_path / "x.npy"
    np.save(image, np.zeros((16, 16), np.float32))
    from zoo.cli import main

    res = CliRunner().invoke(main, ["sr", str(image), "--pipeline", str(pipeline_copy),
                                            "--out", str(tmp_path / "o")])
    one_error_line(res, "sampler.config", "eta")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("change, expected", [
    ({"act_fn": 5}, 'act_fn: expected one of "gelu", "mish", "relu", "silu", "swish", got 5'),
    ({"act_fn": "tanh"}, "act_fn: expected one of"),
    ({"norm_num_groups": 0}, "norm_num_groups: expected an integer 1..1024, got 0"),
    ({"norm_num_groups": 3}, "must be multiples of norm_num_groups (3)"),
    ({"layers_per_block": "2"}, 'layers_per_block: expected an integer 1..16, got "2"'),
    ({"block_out_channels": []}, "block_out_channels: expected a list of 1..8"),
    ({"down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock3D", "x"]}, "down_block_types[1]: expected one of"),
    ({"latents_std": [0.0]}, "latents_std[0]: expected a positive number"),
])
def test_a_bad_autoencoder_kl_config_is_one_line(pipeline_copy: Path, change: dict, expected: str) -> None:
    _edit(pipeline_copy, CARD, lambda d: d["card"]["config"].update(change))
    _refused(pipeline_copy, str(pipeline_copy / CARD), "card.config", expected)


@pytest.mark.parametrize("overrides, expected", [
    ({"norm_num_groups": 0}, "norm_num_groups: expected a positive integer, got 0"),
    ({"act_fn": 5}, "act_fn: expected one of"),
    ({"block_out_channels": [8, 8, 12], "norm_num_groups": 8}, "must be multiples of norm_num_groups (8)"),
])
def test_build_autoencoder_checks_an_autoencoder_kl_config(overrides: dict, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        zoo.build_autoencoder("zoo-demo-f4", pretrained=False, **overrides)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_prepared_manifest_with_a_bad_cell_is_one_line(tmp_path: Path) -> None:
    from zoo.data.errors import DataError
    from zoo.data.manifest import read_manifest

    header = "id,source,slice,subject,split,hr,lr,orig_min,orig_max\n"
    cases = {"a,s.png,abc,p,train,hr/a.png,lr/a.png,0,1\n": "line 2: slice: expected an integer, got 'abc'",
             "a,s.png,0,p,train,hr/a.png,lr/a.png,zero,1\n": "line 2: orig_min: expected a number, got 'zero'",
             "a,s.png,0,p,train,hr/a.png,lr/a.png,0,inf\n": "line 2: orig_max: expected a finite number",
             "a,s.png,0,p\n": "line 2: no value in column(s) split, hr, lr"}
    for row, expected in cases.items():
        (tmp_path / "manifest.csv").write_text(header + row)
        with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")) as info:
            read_manifest(tmp_path)
        assert str(info.value).startswith(str(tmp_path / "manifest.csv")) and "\n" not in str(info.value)
    (tmp_path / "manifest.csv").unlink()
    os.mkfifo(tmp_path / "manifest.csv")
    error = within(10, lambda: read_manifest(tmp_path), [tmp_path / "manifest.csv"])
    assert isinstance(error, DataError) and "not a regular file" in str(error)


def test_a_latent_cache_json_that_hangs_or_nests_is_one_line(tmp_path: Path) -> None:
    from zoo.data.encode import read_cache
    from zoo.data.errors import DataError

    (tmp_path / "cache.json").write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(DataError, match="nested 50000 levels deep"):
        read_cache(tmp_path)
    (tmp_path / "cache.json").write_text("[1]")
    with pytest.raises(DataError, match="expected a JSON object"):
        read_cache(tmp_path)
    (tmp_path / "cache.json").unlink()
    os.mkfifo(tmp_path / "cache.json")
    error = within(10, lambda: read_cache(tmp_path), [tmp_path / "cache.json"])
    assert isinstance(error, DataError) and "not a regular file" in str(error)


def test_diffusers_name_or_path_bookkeeping_is_inert(pipeline_copy: Path) -> None:
    """diffusers writes ``_name_or_path`` (where it once loaded the model from) into config.json: data, never read."""
    _edit(pipeline_copy, CONFIG, lambda d: d.update(_name_or_path="stabilityai/sd-vae-ft-mse"))
    assert zoo.load_pipeline(pipeline_copy).steps == 1
    _edit(pipeline_copy, CONFIG, lambda d: d.update(_name_or_path=5))
    _refused(pipeline_copy, "_name_or_path")
