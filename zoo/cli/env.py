"""``zoo env``: versions, devices and every plugin, for bug reports."""

from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import click

PACKAGES = ("zoo", "zoo-export", "torch", "diffusers", "accelerate", "huggingface_hub", "timm", "onnx",
            "onnxruntime", "openvino", "tensorrt", "numpy", "pydicom", "nibabel")


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def installed_package_dir() -> Path | None:
    """The ``zoo`` package folder the installed distribution points to (an editable install's source), if any."""
    try:
        dist = distribution("zoo")
    except PackageNotFoundError:
        return None
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    url = direct.get("url", "")
    if direct.get("dir_info", {}).get("editable") and url.startswith("file:"):
        return Path(url2pathname(urlparse(url).path)) / "zoo"
    return Path(str(dist.locate_file("zoo")))


def shadowing_warning(imported: Path, installed: Path | None) -> str | None:
    """One line when the imported ``zoo`` is not the installed one (e.g. a clone named ``zoo`` in the cwd)."""
    if installed is None or imported.resolve() == installed.resolve():
        return None
    return (f"the zoo package imported from {imported} is not the installed one ({installed}); a folder named "
            "'zoo' in the current directory (or on PYTHONPATH) shadows it: run zoo from another folder")


def _auto_choice(cuda: bool) -> dict:
    """What ``--backend auto`` runs on this machine's default device, and why (nothing is exported)."""
    from zoo.backends.auto import machine_choice

    try:
        return machine_choice("cuda" if cuda else "cpu")
    except Exception as err:  # a broken plugin or /proc: report, don't crash
        return {"backend": None, "reason": f"{type(err).__name__}: {err}"}


def collect_env() -> dict:
    """Environment facts as a JSON-friendly dict."""
    import zoo
    from zoo.registry import list_components

    imported, installed = Path(zoo.__file__).parent, installed_package_dir()
    env: dict = {
        "zoo_location": {"imported": str(imported), "installed": str(installed) if installed else None,
                         "warning": shadowing_warning(imported, installed)},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "cuda": {"available": False, "devices": []},
    }
    try:
        import torch

        if torch.cuda.is_available():
            env["cuda"] = {
                "available": True,
                "version": torch.version.cuda,
                "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            }
    except Exception as err:  # torch missing or broken: report, don't crash
        env["cuda"]["error"] = f"{type(err).__name__}: {err}"
    env["auto_backend"] = _auto_choice(env["cuda"]["available"])
    env["plugins"] = [
        {"kind": i.kind, "name": i.name, "distribution": i.distribution, "version": i.version, "error": i.error}
        for i in list_components()
    ]
    return env


@click.command("env")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def env_cmd(as_json: bool) -> None:
    """Versions of zoo and its stack, CUDA devices, and every plugin with its distribution and errors."""
    env = collect_env()
    if env["zoo_location"]["warning"]:
        click.echo(f"zoo: warning: {env['zoo_location']['warning']}", err=True)
    if as_json:
        json.dump(env, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    click.echo(f"{'python':<16}{env['python']}  ({env['platform']})")
    for name, ver in env["packages"].items():
        click.echo(f"{name:<16}{ver or '-'}")
    cuda = env["cuda"]
    click.echo(f"{'cuda':<16}{', '.join(cuda['devices']) if cuda['available'] else 'not available'}")
    auto = env["auto_backend"]
    click.echo(f"{'auto backend':<16}{auto['backend'] or '-'}: {auto['reason']}")
    if "cpu" in auto:
        flags = ", ".join(auto["cpu"]["flags"]) or "none of interest"
        click.echo(f"{'cpu':<16}{auto['cpu']['model']} (flags: {flags}); installed runtimes: "
                   f"{', '.join(auto['installed']) or 'none'}")
    click.echo("\nplugins:")
    for p in env["plugins"]:
        status = f"ERROR {p['error']}" if p["error"] else "ok"
        click.echo(f"  {p['kind']:<12}{p['name']:<18}{p['distribution']} {p['version']}  {status}")
