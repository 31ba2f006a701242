"""Weight sources: local files/folders and ``hf:owner/repo[/file][@rev]``, a cache, sha256, safe loading.

Only safe formats are read: safetensors, or torch pickles through ``torch.load(weights_only=True)``,
which refuses any pickle that would import or call code. Hub downloads are offline-first: a file
already in the cache (``$ZOO_HOME``, default ``~/.cache/zoo``) is used without network access.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

__all__ = [
    "HFSource",
    "WeightsError",
    "cached_path",
    "load_state_dict",
    "parse_hf",
    "resolve",
    "sha256_file",
    "torch_load_safe",
    "zoo_home",
]

SAFETENSORS_SUFFIXES = (".safetensors",)


class WeightsError(ZooError, RuntimeError):
    """A weight source cannot be found, downloaded, verified or safely read."""


@dataclass(frozen=True)
class HFSource:
    """A Hugging Face hub source: a repository, optionally one file in it, optionally a revision."""

    repo_id: str
    filename: str | None = None
    revision: str | None = None

    def __str__(self) -> str:
        out = f"hf:{self.repo_id}" + (f"/{self.filename}" if self.filename else "")
        return out + (f"@{self.revision}" if self.revision else "")


def zoo_home() -> Path:
    """Root of zoo's cache: ``$ZOO_HOME`` or ``~/.cache/zoo``."""
    return Path(os.environ.get("ZOO_HOME") or Path.home() / ".cache" / "zoo").expanduser()


def _hf_cache() -> Path:
    return zoo_home() / "hf"


def parse_hf(spec: str) -> HFSource:
    """Parse ``hf:owner/repo[/path/to/file][@revision]``."""
    if not spec.startswith("hf:"):
        raise ValueError(f"{spec!r} is not a hub source (expected 'hf:owner/repo[/file][@rev]')")
    body, at, revision = spec[3:].partition("@")
    parts = [p for p in body.split("/") if p]
    if len(parts) < 2 or (at and not revision):
        raise ValueError(f"{spec!r}: expected 'hf:owner/repo[/file][@rev]'")
    filename = "/".join(parts[2:]) or None
    return HFSource(repo_id=f"{parts[0]}/{parts[1]}", filename=filename, revision=revision or None)


def _offline() -> bool:
    flags = ("ZOO_OFFLINE", "HF_HUB_OFFLINE")
    return any(os.environ.get(f, "").strip().lower() in ("1", "true", "yes", "on") for f in flags)


def _hf_fetch(src: HFSource, local_only: bool) -> Path:
    import huggingface_hub

    common = dict(revision=src.revision, cache_dir=_hf_cache(), local_files_only=local_only)
    if src.filename:
        return Path(huggingface_hub.hf_hub_download(src.repo_id, src.filename, **common))
    patterns = ["*.json", "*.safetensors"]
    return Path(huggingface_hub.snapshot_download(src.repo_id, allow_patterns=patterns, **common))


def cached_path(source: str | os.PathLike) -> Path | None:
    """The local path of ``source`` if it is available without network access, else ``None``."""
    if isinstance(source, str) and source.startswith("hf:"):
        try:
            return _hf_fetch(parse_hf(source), local_only=True)
        except Exception:
            return None
    path = _local(source)
    return path if path.exists() else None


ASSET_PREFIX = "zoo-asset:"


def _local(source: str | os.PathLike) -> Path:
    """A local source as a path; ``zoo-asset:REL`` is a file packaged in ``zoo/assets/REL``."""
    if isinstance(source, str) and source.startswith(ASSET_PREFIX):
        from zoo.assets import asset_path

        return asset_path(source[len(ASSET_PREFIX):])
    return Path(source).expanduser()


def resolve(source: str | os.PathLike, sha256: str | None = None) -> Path:
    """Local path of a weight source (downloading hub sources into the cache), sha256-verified if given."""
    if isinstance(source, str) and source.startswith("hf:"):
        src = parse_hf(source)
        path = cached_path(source)
        if path is None:
            if _offline():
                raise WeightsError(
                    f"{source} is not in the cache ({_hf_cache()}) and offline mode is on "
                    "(ZOO_OFFLINE/HF_HUB_OFFLINE); download it elsewhere and pass weights=PATH"
                )
            try:
                path = _hf_fetch(src, local_only=False)
            except Exception as err:
                raise WeightsError(
                    f"cannot download {source}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
                    f"(no network? download the file elsewhere and pass weights=PATH, or copy it into {_hf_cache()})"
                ) from err
    else:
        path = _local(source)
        if not path.exists():
            hint = " (the embedded weights are made by `make weights`)" if str(source).startswith(ASSET_PREFIX) else ""
            raise WeightsError(f"weights not found: {path}{hint}")
    if sha256 is not None:
        if path.is_dir():
            raise WeightsError(f"{source}: sha256 can only be checked for a single file, not a folder")
        actual = sha256_file(path)
        if actual != sha256.lower():
            raise WeightsError(f"{path}: sha256 mismatch (expected {sha256}, got {actual}); file corrupt or replaced")
    return path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def torch_load_safe(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` on CPU; a pickle that would run code is refused with a clear error."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).split("\n\n")[0].strip().splitlines()
        raise WeightsError(
            f"refusing to load {path}: it is a pickle carrying objects or code that weights_only loading "
            f"does not allow ({reason[-1] if reason else 'unsafe pickle'}); only tensors and plain containers "
            "are accepted, prefer safetensors"
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise WeightsError(f"cannot read {path}: {type(err).__name__}: {err}") from err


def _single_weights_file(folder: Path) -> Path:
    files = sorted(folder.glob("*.safetensors")) or sorted(
        p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt")
    )
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise WeightsError(f"{folder}: expected exactly one weights file in the folder, found {found}")
    return files[0]


def read_tensors(path: str | os.PathLike) -> dict[str, Any]:
    """Raw content of a weights file: a safetensors dict, or whatever a safe torch pickle holds."""
    path = Path(path)
    if path.is_dir():
        path = _single_weights_file(path)
    if path.suffix in SAFETENSORS_SUFFIXES:
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as err:
            raise WeightsError(f"cannot read {path}: not a valid safetensors file ({err})") from err
    return torch_load_safe(path)


def load_state_dict(source: str | os.PathLike, sha256: str | None = None) -> dict:
    """A ``dict[str, Tensor]`` from a weight source (safetensors or safe torch pickle).

    A Lightning-style ``{"state_dict": ...}`` checkpoint is unwrapped.
    """
    import torch

    path = resolve(source, sha256)
    data = read_tensors(path)
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: expected a state dict (name -> tensor), got {type(data).__name__}")
    bad = [k for k, v in data.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: not a state dict, entries that are not tensors: {', '.join(map(str, bad[:5]))}")
    return dict(data)
