"""Plugins are real pip-installed distributions, discovered through entry points."""

from __future__ import annotations

import json

from tests.foundation.conftest import listed, run_python, zoo_cli


def test_example_plugin_is_listed_and_builds(example_site):
    components = listed(example_site)
    info = components["zoo-example-vae:example-vae"]
    assert info["error"] is None and info["kind"] == "autoencoder"
    assert info["card"]["license"] == "MIT" and info["card"]["source"]
    out = run_python(
        "import torch, zoo\n"
        "ae = zoo.build_autoencoder('example-vae', pretrained=False)\n"
        "print(tuple(ae.encode(torch.zeros(2, 1, 32, 32)).shape), type(ae).__module__)",
        example_site,
    )
    assert out.returncode == 0, out.stderr
    assert "(2, 4, 8, 8)" in out.stdout


def test_builtins_register_like_any_plugin():
    components = listed(None)
    for name in ("sd-vae", "kl-f4", "medvae-4-1", "medvae-4-3", "medvae-4-4", "medvae-8-1", "medvae-8-4",
                 "unet", "dit", "resconv", "ddpm", "ddim", "dpmpp-2m", "cold", "torch", "torch-compile", "auto"):
        assert components[f"zoo:{name}"]["error"] is None, name


def test_broken_plugins_are_listed_with_errors_and_others_work(broken_site):
    components = listed(broken_site)
    broken = components["zoo-broken-import:broken-import"]
    assert "zoo_dependency_that_does_not_exist" in broken["error"]
    assert "differs from card name" in components["zoo-bad-card:bad-card"]["error"]
    assert "not a zoo.AutoencoderCard" in components["zoo-bad-card:not-a-card"]["error"]
    assert components["zoo:medvae-4-3"]["error"] is None
    out = run_python("import zoo; print(zoo.get_card('autoencoder', 'medvae').name)", broken_site)
    assert out.returncode == 0 and out.stdout.strip() == "medvae-4-3", out.stderr
    env = zoo_cli(["env"], broken_site)
    assert env.returncode == 0 and "zoo-broken-import" in env.stdout and "ERROR" in env.stdout


def test_strict_mode_raises(broken_site):
    out = zoo_cli(["list"], broken_site, ZOO_STRICT_PLUGINS="1")
    assert out.returncode == 2
    assert "zoo-broken-import:broken-import" in out.stderr and "zoo-bad-card:bad-card" in out.stderr
    api = run_python("import zoo; zoo.list_components()", broken_site, ZOO_STRICT_PLUGINS="1")
    assert api.returncode != 0 and "PluginError" in api.stderr


def test_using_a_broken_plugin_explains_why(broken_site):
    out = run_python("import zoo; zoo.build_autoencoder('broken-import', pretrained=False)", broken_site)
    assert out.returncode != 0
    assert "failed to load" in out.stderr and "zoo_dependency_that_does_not_exist" in out.stderr


def test_colliding_names_raise_and_qualified_name_resolves(collide_site):
    out = run_python("import zoo; zoo.get_card('autoencoder', 'example-vae')", collide_site)
    assert out.returncode != 0
    assert "zoo-collide" in out.stderr and "zoo-example-vae" in out.stderr and "qualified" in out.stderr
    ok = run_python(
        "import zoo\n"
        "print(zoo.get_card('autoencoder', 'zoo-collide:example-vae').description)\n"
        "print(zoo.get_card('autoencoder', 'zoo_example_vae:example-vae').factory)",
        collide_site,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == ["collides on purpose", "zoo_example_vae.model:build"]
    strict = zoo_cli(["list"], collide_site, ZOO_STRICT_PLUGINS="1")
    assert strict.returncode == 2 and "zoo-collide" in strict.stderr


def test_import_zoo_and_zoo_list_do_not_import_torch(example_site):
    code = (
        "import sys, zoo\n"
        "zoo.list_components(); zoo.get_card('autoencoder', 'medvae')\n"
        "from zoo.cli import main\n"
        "sys.argv = ['zoo', 'list']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'diffusers', 'zoo.autoencoders.kl', 'zoo_example_vae.model')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = run_python(code, example_site)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout


def test_zoo_env_lists_the_runtimes():
    out = zoo_cli(["env", "--json"], None)
    assert out.returncode == 0, out.stderr
    packages = json.loads(out.stdout)["packages"]
    assert {"openvino", "onnxruntime", "tensorrt", "huggingface_hub"} <= set(packages)
    assert packages["openvino"]  # installed here (make install), so a version, not None


def test_a_plugin_printing_at_import_keeps_stdout_machine_readable(chatty_site):
    out = zoo_cli(["list", "--json"], chatty_site)
    assert out.returncode == 0, out.stderr
    names = [item["name"] for item in json.loads(out.stdout)]  # stdout is nothing but the JSON
    assert "chatty-vae" in names
    assert "zoo-chatty: card module imported" in out.stderr
    factory = run_python("import zoo.registry as r; r.load_factory(r.get_card('autoencoder', 'chatty-vae'))",
                         chatty_site)
    assert factory.returncode == 0, factory.stderr
    assert factory.stdout == "" and "zoo-chatty: factory module imported" in factory.stderr


def test_zoo_env_warns_when_a_clone_named_zoo_in_the_current_folder_shadows_the_installed_one(tmp_path):
    import shutil
    import subprocess
    import sys

    from tests.foundation.conftest import ROOT

    shutil.copytree(ROOT / "zoo", tmp_path / "zoo",  # what `cd ..` from a clone named zoo puts first on sys.path
                    ignore=shutil.ignore_patterns("__pycache__", "*.safetensors", "*.png", "*.npz"))
    out = subprocess.run([sys.executable, "-m", "zoo", "env", "--json"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    location = json.loads(out.stdout)["zoo_location"]
    assert location["imported"] == str(tmp_path / "zoo")
    warnings = [line for line in out.stderr.splitlines() if "shadows it" in line]
    assert len(warnings) == 1 and warnings[0].startswith("zoo: warning:") and str(tmp_path / "zoo") in warnings[0]
