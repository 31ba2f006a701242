"""The backends' export cache: one private per-user folder, entries verified before use (docs/export.md)."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
import torch
from export_helpers import small_pipeline
from zoo_export.backends import cache_fingerprint, export_cache_folder
from zoo_export.options import export_options_for

import zoo
from zoo.folders.cache import CacheDirError, cache_dir, cache_root


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_zoo_cache_is_honoured_and_created_private(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "mine" / "zoo"))
    assert cache_root() == tmp_path / "mine" / "zoo"
    exports = export_cache_folder(None)
    assert exports == tmp_path / "mine" / "zoo" / "exports"
    assert _mode(exports) == _mode(exports.parent) == 0o700


def test_platform_default_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("ZOO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert cache_root() == tmp_path / "xdg" / "zoo"
    assert "tmp" not in cache_root().relative_to(tmp_path).parts  # never the shared temp folder


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_a_cache_folder_writable_by_others_is_refused(tmp_path, monkeypatch, mode):
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    os.chmod(shared, mode)
    monkeypatch.setenv("ZOO_CACHE", str(shared))
    with pytest.raises(CacheDirError) as info:
        cache_dir("exports")
    assert str(shared) in str(info.value) and "writable by group or others" in str(info.value)
    assert "\n" not in str(info.value) and not (shared / "exports").exists()
    with pytest.raises(CacheDirError):  # an explicit cache_dir= of a backend too
        export_cache_folder(shared)


def _runtime_output(backend, pipe) -> torch.Tensor:
    on = zoo.SRPipeline(pipe.vae, pipe.denoiser, pipe.sampler, pipe.options, backend)
    return on(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(2)), seed=3)


@pytest.mark.slow
def test_a_planted_export_of_other_weights_is_rebuilt_not_used(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    pipe = small_pipeline()
    other = small_pipeline()  # the same architecture, other weights: what an attacker would plant
    with torch.no_grad():
        for p in other.denoiser.parameters():
            p.add_(0.5 * torch.randn_like(p))
    planted = tmp_path / "planted"
    zoo.build_backend("onnxruntime", size=32, cache_dir=planted).runtime(other)
    (planted_entry,) = list(planted.iterdir())

    options = export_options_for(pipe, backend="onnx", fp16=False, size=32, batch=(1, 1, 4))
    fingerprint = cache_fingerprint(pipe, options)
    entry = export_cache_folder(None) / fingerprint[:32]
    shutil.copytree(planted_entry, entry)  # planted under pipe's own entry name...
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest["source"]["cache_key"] = fingerprint  # ...and even claiming pipe's fingerprint
    (entry / "manifest.json").write_text(json.dumps(manifest))

    reference = pipe(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(2)), seed=3)
    out = _runtime_output(zoo.build_backend("onnxruntime", size=32), pipe)
    assert (out - reference).abs().max() < 1e-3  # rebuilt from pipe's own weights, not the planted ones
    assert "does not compute this pipeline" in caplog.text
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporaries left
