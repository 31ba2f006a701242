"""Weight sources: local files/folders, ``package:PKG/REL`` files shipped inside an installed package, and
``hf:owner/repo[/file][@rev]`` on the Hugging Face hub; sha256 checks and safe loading.

Only safe formats are read: safetensors, or torch pickles through ``torch.load(weights_only=True)``,
which refuses any pickle that would import or call code. Hub sources live in huggingface_hub's own
cache (``HF_HUB_CACHE``, default ``$HF_HOME/hub`` = ``~/.cache/huggingface/hub``) and are
offline-first: a cached file is used without network access; ``HF_HUB_OFFLINE=1`` forbids downloads.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

__all__ = [
    "HubUnreachableError",
    "HFSource",
    "WeightsError",
    "cached_path",
    "hub_cache",
    "hub_fetch",
    "load_state_dict",
    "package_path",
    "parse_hf",
    "resolve",
    "sha256_file",
    "torch_load_safe",
    "unwrap_state_dict",
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


def hub_cache() -> Path:
    """huggingface_hub's cache folder (``HF_HUB_CACHE``, else ``$HF_HOME/hub``, as the hub reads them)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


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
    """``HF_HUB_OFFLINE`` read now (the hub reads it once, at import)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hf_fetch(src: HFSource, local_only: bool) -> Path:
    import huggingface_hub

    common = dict(revision=src.revision, local_files_only=local_only)
    if src.filename:
        return Path(huggingface_hub.hf_hub_download(src.repo_id, src.filename, **common))
    patterns = ["*.json", "*.safetensors"]
    return Path(huggingface_hub.snapshot_download(src.repo_id, allow_patterns=patterns, **common))


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def hub_fetch(spec: str, fetch: Callable[[bool], Path], error: type[ZooError], how_to_get: str,
              instead: str = "pass a local path") -> Path:
    """zoo's one way to the hub: ``fetch(True)`` (the cache, no network) first, else ``fetch(False)`` (a download)
    unless ``HF_HUB_OFFLINE`` is set; a failure is one ``error`` line naming ``spec`` and ``how_to_get`` it. An
    unreachable hub (one TCP connection, tried once per process: :func:`_hub_unreachable`) fails at once in one
    short line (a :class:`HubUnreachableError` where ``error`` is a :class:`WeightsError`) suggesting
    ``HF_HUB_OFFLINE=1`` or ``instead``."""
    try:
        return fetch(True)
    except Exception as cached_err:  # huggingface_hub raises several kinds for "not in the cache"
        if _offline():
            raise error(f"{spec}: not in the Hugging Face cache ({hub_cache()}) and HF_HUB_OFFLINE is set; "
                        f"{how_to_get}") from cached_err
    reason = _hub_unreachable()
    if reason is not None:
        unreachable = HubUnreachableError if issubclass(HubUnreachableError, error) else error
        raise unreachable(f"{spec}: the Hugging Face hub is unreachable ({reason}); set HF_HUB_OFFLINE=1 to use "
                          f"only the cache, or {instead}")
    try:
        return fetch(False)
    except Exception as err:
        raise error(f"{spec}: cannot download ({_first_line(err)}); no network? {how_to_get}") from err


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
PACKAGE_PREFIX = "package:"


def package_path(source: str) -> Path:
    """The file behind ``package:PKG/REL`` (``REL`` inside the installed package ``PKG``, e.g.
    ``package:my_plugin/weights/vae.safetensors``), found through ``importlib.resources``."""
    from importlib.resources import files

    package, _, rel = source[len(PACKAGE_PREFIX):].partition("/")
    if not package or not rel:
        raise WeightsError(f"{source!r}: expected 'package:PACKAGE/path/in/package', "
                           "e.g. 'package:my_plugin/weights/vae.safetensors'")
    try:
        root = files(package)
    except ModuleNotFoundError as err:
        raise WeightsError(f"{source}: package {package!r} is not installed ({err})") from err
    except TypeError as err:  # a module, not a package
        raise WeightsError(f"{source}: {package!r} is not a package ({err})") from err
    if not isinstance(root, Path):
        raise WeightsError(f"{source}: package {package!r} is not installed as files (zipped?); reinstall it with pip")
    return root.joinpath(*rel.split("/"))


def _local(source: str | os.PathLike) -> Path:
    """A local source as a path; ``zoo-asset:REL`` is a file packaged in ``zoo/assets/REL``,
    ``package:PKG/REL`` one in an installed package (:func:`package_path`)."""
    if isinstance(source, str) and source.startswith(ASSET_PREFIX):
        from zoo.assets import asset_path

        return asset_path(source[len(ASSET_PREFIX):])
    if isinstance(source, str) and source.startswith(PACKAGE_PREFIX):
        return package_path(source)
    return Path(source).expanduser()


def _offline_hint(src: HFSource) -> str:
    """How to fill the hub cache of a machine without network (copying one file does not make a cache entry)."""
    what = f"{src.repo_id} {src.filename or ''}".strip() + (f" --revision {src.revision}" if src.revision else "")
    folder = "models--" + src.repo_id.replace("/", "--")
    return (f"on a machine with network run `hf download {what}` (`huggingface-cli download` before "
            f"huggingface_hub 0.34) and copy its cache folder ~/.cache/huggingface/hub/{folder} into {hub_cache()} "
            "here (or point HF_HUB_CACHE at a copy), or download the file and pass weights=PATH")


class HubUnreachableError(WeightsError):
    """The hub could not be reached for a source missing from the cache (no network, firewall, DNS)."""


_UNREACHABLE: dict[str, str] = {}
"""Hub endpoints found unreachable in this process (endpoint -> reason): later sources fail at once."""


def _hub_timeout() -> float:
    """Seconds to wait for the hub's TCP connection (``ZOO_HUB_TIMEOUT``, default 5)."""
    from zoo.utils.env_vars import env_int

    return float(env_int("ZOO_HUB_TIMEOUT", 5))


def _hub_unreachable() -> str | None:
    """Why the hub endpoint cannot be reached (one TCP connection, once per process), or None if it can."""
    import socket
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    endpoint = constants.ENDPOINT
    if endpoint not in _UNREACHABLE:
        url = urlsplit(endpoint)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname or "", port), timeout=_hub_timeout()).close()
            return None
        except OSError as err:
            _UNREACHABLE[endpoint] = f"{url.hostname}: {getattr(err, 'strerror', None) or err}"[:80]
    return _UNREACHABLE[endpoint]


def resolve(source: str | os.PathLike, sha256: str | None = None) -> Path:
    """Local path of a weight source (downloading hub sources into the cache), sha256-verified if given."""
    if isinstance(source, str) and source.startswith("hf:"):
        src = parse_hf(source)
        path = hub_fetch(source, lambda local_only: _hf_fetch(src, local_only), WeightsError, _offline_hint(src),
                         instead="pass --weights PATH")
    else:
        path = _local(source)
        if not path.exists():
            hint = ""
            if str(source).startswith(ASSET_PREFIX):
                hint = " (the embedded weights are made by `make weights`)"
            elif str(source).startswith(PACKAGE_PREFIX):
                hint = f" ({source}: is the file in the package's data, e.g. [tool.setuptools.package-data]?)"
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


def folder_fingerprint(folder: str | os.PathLike, digits: int = 16) -> dict[str, str]:
    """The sha256 (its first ``digits`` hex digits) of every file under ``folder``, by relative POSIX path."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): sha256_file(p)[:digits] for p in sorted(folder.rglob("*")) if p.is_file()}


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


def unwrap_state_dict(data: Any, path: str | os.PathLike = "checkpoint") -> dict:
    """The state dict in a file's content: the content itself, or a Lightning-style ``{"state_dict": ...}``'s."""
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: expected a state dict (name -> tensor), got {type(data).__name__}")
    return data


def load_state_dict(source: str | os.PathLike, sha256: str | None = None) -> dict:
    """A ``dict[str, Tensor]`` from a weight source (safetensors or safe torch pickle).

    A Lightning-style ``{"state_dict": ...}`` checkpoint is unwrapped.
    """
    import torch

    path = resolve(source, sha256)
    data = unwrap_state_dict(read_tensors(path), path)
    bad = [k for k, v in data.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: not a state dict, entries that are not tensors: {', '.join(map(str, bad[:5]))}")
    return dict(data)
