"""Opening a shared pipeline or autoencoder folder never runs code it names; bad JSON and paths are one line."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import zoo
from zoo.cli import main
from zoo.errors import ZooError
from zoo.folders.paths import FolderPathError
from zoo.folders.schema import FolderSchemaError
from zoo.registry import UnknownComponentError

CARD = "vae/zoo_autoencoder.json"
PIPE = "zoo_pipeline.json"
LR = torch.rand(1, 1, 16, 16)
KL_FACTORY = "zoo.autoencoders.kl:build_autoencoder_kl"


def _edit(folder: Path, name: str, change) -> None:
    path = folder / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def _refused(folder: Path, error: type[Exception] = ZooError, match: str | None = None) -> str:
    with pytest.raises(error, match=match) as info:
        zoo.load_pipeline(folder)
    message = str(info.value)
    assert "\n" not in message
    return message


def _hostile(factory: str, marker: Path) -> dict[str, Any]:
    """Arguments under which ``factory`` would create ``marker``."""
    return {
        "subprocess:run": {"args": ["touch", str(marker)]},
        "os:system": {"command": f"touch '{marker}'"},
        "tests.safety.marker:make_marker": {"path": str(marker)},
    }[factory]


def _as_version_1(card_file: Path, name: str, factory: str, config: dict | None = None) -> None:
    """Rewrite a saved autoencoder's JSON in the version-1 layout (the whole card, factory included)."""
    data = json.loads(card_file.read_text())
    card = {**data["card"], "name": name, "factory": factory}
    if config is not None:
        card["config"] = config
    card_file.write_text(json.dumps({"format": "zoo-autoencoder", "format_version": 1, "card": card}))


HOSTILE = ["subprocess:run", "os:system", "tests.safety.marker:make_marker"]


@pytest.mark.parametrize("factory", HOSTILE)
def test_the_hostile_calls_would_create_the_marker(factory: str, tmp_path: Path) -> None:
    """Control: each factory used below really runs and creates its marker when called."""
    marker = tmp_path / "marker"
    module, _, attr = factory.partition(":")
    getattr(importlib.import_module(module), attr)(**_hostile(factory, marker))
    assert marker.exists()


@pytest.mark.parametrize("factory", HOSTILE)
@pytest.mark.parametrize("layout", ["v1-registered-name", "v1-unknown-name", "v2-factory-key", "v2-component"])
def test_a_card_naming_a_callable_runs_nothing(pipeline_copy: Path, tmp_path: Path, factory: str, layout: str) -> None:
    marker = tmp_path / "marker"
    hostile = _hostile(factory, marker)
    card_file = pipeline_copy / CARD
    if layout == "v1-registered-name":
        _as_version_1(card_file, "zoo-demo-f4", factory, hostile)
        match = "refusing to run it"
    elif layout == "v1-unknown-name":
        _as_version_1(card_file, "evil", factory, hostile)
        _edit(pipeline_copy, PIPE, lambda d: d["vae"].update(name="evil"))
        match = "no autoencoder named 'evil' is installed"
    elif layout == "v2-factory-key":
        _edit(pipeline_copy, CARD, lambda d: d["card"].update(factory=factory, config=hostile))
        match = r"card\.factory: unknown key"
    else:
        _edit(pipeline_copy, CARD, lambda d: (d.update(component={"name": factory, "version": "1"}),
                                              d["card"].update(config=hostile)))
        match = f"component.name: no autoencoder named '{factory}' is installed"
    message = _refused(pipeline_copy, match=f"{match}|holds architecture only")  # the config's path may go first
    assert not marker.exists()
    if "is installed" in message:
        assert "zoo-demo-f4" in message and "medvae-4-3" in message  # the installed ones are listed


def test_zoo_sr_refuses_a_hostile_folder_in_one_line(pipeline_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _as_version_1(pipeline_copy / CARD, "zoo-demo-f4", "subprocess:run", {"args": ["touch", str(marker)]})
    image = tmp_path / "x.npy"
    import numpy as np

    np.save(image, np.random.default_rng(0).random((16, 16)).astype(np.float32))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "zoo", "sr", str(image), "--pipeline", str(pipeline_copy),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith("zoo: error:") and ("card.factory" in proc.stderr or "card.config" in proc.stderr)
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind, key", [("denoiser", "denoiser"), ("sampler", "sampler")])
def test_unknown_denoiser_or_sampler_is_one_line_listing_the_installed(pipeline_copy: Path, kind, key) -> None:
    _edit(pipeline_copy, PIPE, lambda d: d[key].update(name="tests.safety.marker:make_marker"))
    message = _refused(pipeline_copy, UnknownComponentError, match=f"{key}.name: no {kind} named")
    assert ("unet" in message) if kind == "denoiser" else ("ddim" in message and "dpmpp-2m" in message)


def test_a_stored_config_that_does_not_fit_its_component_is_one_line(pipeline_copy: Path) -> None:
    _edit(pipeline_copy, PIPE, lambda d: d["denoiser"]["config"].update(no_such_argument=1))
    _refused(pipeline_copy, match=r"denoiser\.config does not build the 'unet' denoiser")
    _edit(pipeline_copy, PIPE, lambda d: d["denoiser"]["config"].pop("no_such_argument"))
    _edit(pipeline_copy, CARD, lambda d: d["card"]["config"].update(no_such_argument=1))
    _refused(pipeline_copy, match=r"card\.config does not build the 'zoo-demo-f4' autoencoder")


# --- old folders ------------------------------------------------------------------------------------


def test_version_1_folders_still_open(pipeline_copy: Path, saved_pipeline: Path, tmp_path: Path) -> None:
    """The version-1 layout (a whole card, factory included) opens when the factory is the registered one."""
    fresh = zoo.load_pipeline(saved_pipeline)
    card_file = pipeline_copy / CARD
    _as_version_1(card_file, "zoo-demo-f4", KL_FACTORY)
    old = zoo.load_pipeline(pipeline_copy)
    assert old.vae.card.name == "zoo-demo-f4" and old.vae.card.factory == KL_FACTORY
    torch.testing.assert_close(old(LR, seed=1, progress=False), fresh(LR, seed=1, progress=False), atol=0, rtol=0)
    # an old trained autoencoder under its own (unregistered) name: zoo's built-in AutoencoderKL rebuilds it
    _as_version_1(card_file, "my-trained-vae", KL_FACTORY)
    _edit(pipeline_copy, PIPE, lambda d: d["vae"].update(name="my-trained-vae"))
    trained = zoo.load_pipeline(pipeline_copy)
    assert trained.vae.card.name == "my-trained-vae"
    torch.testing.assert_close(trained(LR, seed=1, progress=False), fresh(LR, seed=1, progress=False), atol=0, rtol=0)


def test_the_embedded_default_pipeline_opens() -> None:
    from zoo.assets import DEFAULT_PIPELINE_DIR

    pipe = zoo.load_pipeline(DEFAULT_PIPELINE_DIR)
    registered = zoo.get_card("autoencoder", pipe.vae.card.name)  # resolved through the registry
    assert pipe.vae.card.name == "zoo-s2d-f4" and pipe.vae.card.factory == registered.factory


def test_saved_autoencoder_names_its_component_and_stores_no_factory(saved_pipeline: Path) -> None:
    data = json.loads((saved_pipeline / CARD).read_text())
    assert data["format_version"] == 2 and data["component"] == {"name": "zoo-demo-f4", "version": "1"}
    assert "factory" not in data["card"] and data["card"]["config"]["block_out_channels"] == [8, 8, 16]


def test_trained_autoencoder_under_a_new_name_reopens(tmp_path: Path) -> None:
    import dataclasses

    from zoo.autoencoders.loading import autoencoder_from_path, save_autoencoder

    ae = zoo.build_autoencoder("zoo-demo-f4", pretrained=False, block_out_channels=[8, 8, 16], norm_num_groups=4)
    ae.card = dataclasses.replace(ae.card, name="tiny-trained", weights=None)
    folder = save_autoencoder(ae, tmp_path / "ae")
    assert json.loads((folder / "zoo_autoencoder.json").read_text())["component"] is None  # built-in AutoencoderKL
    again = autoencoder_from_path(folder)
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    assert again.card.name == "tiny-trained" and torch.equal(again.encode(x), ae.encode(x))


def test_plugin_autoencoder_with_overrides_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("zoo_example_vae")
    from zoo.autoencoders.loading import autoencoder_from_path, save_autoencoder

    ae = zoo.build_autoencoder("example-vae", pretrained=False, block_out_channels=[16, 16], norm_num_groups=8)
    folder = save_autoencoder(ae, tmp_path / "ae")
    data = json.loads((folder / "zoo_autoencoder.json").read_text())
    assert data["component"]["name"] == "example-vae" and data["card"]["config"]["block_out_channels"] == [16, 16]
    again = autoencoder_from_path(folder)
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    assert again.card.factory == "zoo_example_vae.model:build" and torch.equal(again.encode(x), ae.encode(x))


# --- paths ------------------------------------------------------------------------------------------


def _foreign_vae(pipeline: Path) -> Path:
    """A complete, loadable autoencoder folder outside the pipeline folder (it would load silently)."""
    outside = pipeline.parent / "elsewhere" / "vae"
    shutil.copytree(pipeline / "vae", outside)
    return outside


@pytest.mark.parametrize("field, value", [
    ("vae.path", "../elsewhere/vae"),
    ("vae.path", "ABSOLUTE"),
    ("denoiser.file", "../../../../../../../../etc/passwd"),
    ("denoiser.file", "../elsewhere/vae/diffusion_pytorch_model.safetensors"),
    ("tensors", "../elsewhere/vae/diffusion_pytorch_model.safetensors"),
])
def test_paths_leading_outside_a_pipeline_folder_are_refused(pipeline_copy: Path, field: str, value: str) -> None:
    outside = _foreign_vae(pipeline_copy)
    value = str(outside) if value == "ABSOLUTE" else value

    def change(data: dict) -> None:
        if field == "tensors":
            data["tensors"][value] = data["tensors"].pop("vae/diffusion_pytorch_model.safetensors")
        else:
            section, key = field.split(".")
            data[section][key] = value

    _edit(pipeline_copy, PIPE, change)
    message = _refused(pipeline_copy, FolderPathError)
    assert field in message and repr(value) in message


@pytest.mark.parametrize("link", ["vae", "vae/diffusion_pytorch_model.safetensors", "vae/config.json",
                                  "vae/zoo_autoencoder.json", "denoiser.safetensors", "zoo_pipeline.json"])
def test_symlinks_leading_outside_a_pipeline_folder_are_refused(pipeline_copy: Path, link: str) -> None:
    outside = pipeline_copy.parent / "elsewhere"
    target = outside / link
    target.parent.mkdir(parents=True, exist_ok=True)
    source = pipeline_copy / link
    shutil.move(str(source), str(target))  # the same, valid content: only where it lives differs
    source.symlink_to(target)
    _refused(pipeline_copy, FolderPathError, match="leads outside the folder")


def test_symlinks_inside_the_folder_are_fine(pipeline_copy: Path) -> None:
    (pipeline_copy / "weights").mkdir()
    shutil.move(str(pipeline_copy / "denoiser.safetensors"), str(pipeline_copy / "weights" / "d.safetensors"))
    (pipeline_copy / "denoiser.safetensors").symlink_to(Path("weights") / "d.safetensors")
    assert zoo.load_pipeline(pipeline_copy).steps == 1


# --- schema -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("file, change, expected", [
    (PIPE, lambda d: d.update(steps="ten"), 'steps: expected a positive integer or null, got "ten"'),
    (PIPE, lambda d: d.update(steps=0), "steps: expected a positive integer or null, got 0"),
    (PIPE, lambda d: d.update(scale=-4), "scale: expected a positive integer, got -4"),
    (PIPE, lambda d: d.update(scale=True), "scale: expected a positive integer, got true"),
    (PIPE, lambda d: d.update(residual="yes"), 'residual: expected true or false, got "yes"'),
    (PIPE, lambda d: d.update(conditioning="magic"), 'conditioning: expected one of "lr-latent", "bicubic-latent"'),
    (PIPE, lambda d: d.update(surprise=1), "surprise: unknown key"),
    (PIPE, lambda d: d.pop("scale"), "scale: missing"),
    (PIPE, lambda d: d["latent_stats"]["std"].__setitem__(0, 0.0), "latent_stats.std[0]: expected a positive number"),
    (PIPE, lambda d: d["schedule"].update(num_timesteps="1000"), "schedule.num_timesteps: expected a positive integer"),
    (PIPE, lambda d: d["denoiser"].update(config=[1]), "denoiser.config: expected an object"),
    (PIPE, lambda d: d["vae"].update(path=3), "vae.path: expected a string, got 3"),
    (CARD, lambda d: d["card"].update(in_channels="1"), 'card.in_channels: expected a positive integer, got "1"'),
    (CARD, lambda d: d["card"].update(intensity="auto"), "card.intensity: expected one of"),
    (CARD, lambda d: d.update(component="zoo-demo-f4"), "component: expected an object or null"),
    (CARD, lambda d: d.pop("component"), "component: missing"),
])
def test_wrong_json_is_refused_naming_the_field(pipeline_copy: Path, file: str, change, expected: str) -> None:
    _edit(pipeline_copy, file, change)
    message = _refused(pipeline_copy, FolderSchemaError)
    assert message.startswith(str(pipeline_copy / file) + ": ") and expected in message, message


def test_zoo_sr_reports_wrong_json_in_one_line(pipeline_copy: Path, tmp_path: Path) -> None:
    _edit(pipeline_copy, PIPE, lambda d: d.update(steps="ten"))
    image = tmp_path / "x.npy"
    import numpy as np

    np.save(image, np.zeros((16, 16), np.float32))
    res = CliRunner().invoke(main, ["sr", str(image), "--pipeline", str(pipeline_copy), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.output.strip().count("\n") == 0, res.output
    assert res.output.startswith("zoo: error:")
    assert 'steps: expected a positive integer or null, got "ten"' in res.output


def test_saving_refuses_to_write_what_opening_would_refuse(tmp_path: Path, saved_pipeline: Path) -> None:
    pipe = zoo.load_pipeline(saved_pipeline)
    object.__setattr__(pipe.options, "steps", "ten")  # what a config refuses to hold (tested in tests/pipeline)
    with pytest.raises(FolderSchemaError, match="steps"):
        pipe.save_pretrained(tmp_path / "p")
    assert not (tmp_path / "p").exists()


# --- diffusers' files and the model card --------------------------------------------------------------

DIFFUSERS_CONFIG = "vae/config.json"


@pytest.mark.parametrize("class_name", ["UNet2DModel", "tests.safety.marker:make_marker", "subprocess.run"])
def test_a_config_json_naming_another_class_is_refused_and_imports_nothing(pipeline_copy: Path, tmp_path: Path,
                                                                           class_name: str) -> None:
    marker = tmp_path / "marker"
    _edit(pipeline_copy, DIFFUSERS_CONFIG, lambda d: d.update(_class_name=class_name, path=str(marker)))
    before = set(sys.modules)
    message = _refused(pipeline_copy, FolderSchemaError, match=r'_class_name: expected one of "AutoencoderKL"')
    assert message.startswith(str(pipeline_copy / DIFFUSERS_CONFIG))
    assert not marker.exists() and "tests.safety.marker" not in set(sys.modules) - before


def test_a_config_json_that_disagrees_with_zoos_card_is_refused(pipeline_copy: Path) -> None:
    _edit(pipeline_copy, DIFFUSERS_CONFIG, lambda d: d.update(latent_channels=4))
    _refused(pipeline_copy, match=r"config\.json: latent_channels is 4, but the 'zoo-demo-f4' autoencoder that "
                                  r"zoo_autoencoder\.json describes has 8")


def test_a_vae_folder_with_both_layouts_is_refused(pipeline_copy: Path) -> None:
    shutil.copyfile(pipeline_copy / "vae" / "diffusion_pytorch_model.safetensors",
                    pipeline_copy / "vae" / "autoencoder.safetensors")
    _refused(pipeline_copy, match="holds both autoencoder.safetensors .* and config.json")


def test_a_config_json_beside_a_non_kl_autoencoder_is_refused(tmp_path: Path) -> None:
    pipe = zoo.build_pipeline("zoo-s2d-f4", "unet", "ddim", steps=1, pretrained=False, hr_size=64,
                              denoiser_config={"preset": "tiny"})
    pipe.save_pretrained(tmp_path / "p")
    weights = "vae/diffusion_pytorch_model.safetensors"  # dressed as diffusers' layout
    (tmp_path / "p" / "vae" / "autoencoder.safetensors").rename(tmp_path / "p" / weights)
    _edit(tmp_path / "p", PIPE,
          lambda d: d["tensors"].update({weights: d["tensors"].pop("vae/autoencoder.safetensors")}))
    (tmp_path / "p" / DIFFUSERS_CONFIG).write_text(json.dumps({"_class_name": "AutoencoderKL"}))
    _refused(tmp_path / "p", match="beside the 'zoo-s2d-f4' autoencoder .* not an AutoencoderKL")


def test_an_odd_model_card_is_never_read(pipeline_copy: Path, saved_pipeline: Path, tmp_path: Path) -> None:
    import yaml

    marker = tmp_path / "marker"
    hostile = f"---\nx: !!python/object/apply:subprocess.run [['touch', '{marker}']]\n---\n"
    with pytest.raises(yaml.constructor.ConstructorError):  # a safe YAML reader refuses it
        yaml.safe_load(hostile.split("---\n")[1])
    for card in (hostile, "no front matter\n", "---\n[unclosed\n"):
        (pipeline_copy / "README.md").write_text(card)
        torch.testing.assert_close(zoo.load_pipeline(pipeline_copy)(LR, seed=1, progress=False),
                                   zoo.load_pipeline(saved_pipeline)(LR, seed=1, progress=False), atol=0, rtol=0)
    (pipeline_copy / "README.md").write_bytes(b"\xff\xfe\x00 not text")
    assert zoo.load_pipeline(pipeline_copy).steps == 1
    assert not marker.exists()


def test_a_linked_store_admits_symlinks_only(pipeline_copy: Path) -> None:
    """Inside a hub snapshot (a linked store), a symlink may lead into the store; a written path may not leave."""
    from zoo.folders.paths import inside, linked_store

    store = pipeline_copy.parent / "blobs"
    store.mkdir()
    shutil.move(str(pipeline_copy / "denoiser.safetensors"), str(store / "abc"))
    (pipeline_copy / "denoiser.safetensors").symlink_to(store / "abc")
    _refused(pipeline_copy, FolderPathError, match="leads outside the folder")
    with linked_store(store):
        assert zoo.load_pipeline(pipeline_copy).steps == 1
        with pytest.raises(FolderPathError, match="leads outside the folder"):
            inside(pipeline_copy, "../blobs/abc", "denoiser.file", "zoo_pipeline.json")
        _edit(pipeline_copy, PIPE, lambda d: d["denoiser"].update(file="../blobs/abc"))
        _refused(pipeline_copy, FolderPathError, match="denoiser.file")
    _refused(pipeline_copy, FolderPathError)
