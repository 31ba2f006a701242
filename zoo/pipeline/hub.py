"""Pipeline folders on the Hugging Face hub: ``hf:owner/repo[/subfolder][@revision]``.

The repository is fetched with huggingface_hub's ``snapshot_download`` into the hub's own cache
(``HF_HUB_CACHE``, default ``$HF_HOME/hub``), offline-first: a cached snapshot is used without network
access, a download is tried only when it is missing and ``HF_HUB_OFFLINE`` is not set. The local
snapshot then opens like any folder (checked JSON, paths inside the folder, nothing imported).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from zoo.errors import ZooError
from zoo.weights import HFSource, hub_cache, hub_fetch, parse_hf

__all__ = ["HubPipelineError", "is_hub_spec", "open_hub_pipeline", "pipeline_folder"]

T = TypeVar("T")


class HubPipelineError(ZooError, OSError):
    """A hub pipeline cannot be found in the cache or downloaded."""


def is_hub_spec(path: object) -> bool:
    """True for ``"hf:..."`` strings (a hub pipeline, not a local path)."""
    return isinstance(path, str) and path.startswith("hf:")


def _how_to_get(src: HFSource) -> str:
    rev = f" --revision {src.revision}" if src.revision else ""
    return (f"on a machine with network run `hf download {src.repo_id}{rev}` and copy its cache folder "
            f"models--{src.repo_id.replace('/', '--')} into {hub_cache()}, or `hf download {src.repo_id}{rev} "
            "--local-dir DIR` and load_pipeline(DIR)")


def _snapshot(src: HFSource, local_only: bool) -> Path:
    from huggingface_hub import snapshot_download

    patterns = [f"{src.filename}/*"] if src.filename else None
    return Path(snapshot_download(src.repo_id, revision=src.revision, allow_patterns=patterns,
                                  local_files_only=local_only))


def open_hub_pipeline(spec: str, open_folder: Callable[[Path], T]) -> T:
    """``open_folder`` (``load_pipeline`` of a local folder) on the cached snapshot of the hub pipeline ``spec``,
    whose files (symlinks into the repository's ``blobs/``, made by huggingface_hub) may resolve into that store."""
    from zoo.folders.paths import linked_store

    folder = pipeline_folder(spec)
    snapshot = next((p for p in (folder, *folder.parents) if p.parent.name == "snapshots"), None)
    if snapshot is None:
        raise HubPipelineError(f"{spec}: {folder} is not a Hugging Face cache snapshot (models--*/snapshots/REV)")
    with linked_store(_checked_store(spec, snapshot)):
        return open_folder(folder)


def _checked_store(spec: str, snapshot: Path) -> Path:
    """The repository's ``blobs/`` that the snapshot's links may lead into, once its real path and the snapshot's
    are checked to be where huggingface_hub puts them, inside the real hub cache (a ``blobs/`` or repository
    folder that is itself a symlink out of the cache would let a pipeline load files from anywhere)."""
    root = hub_cache().resolve()
    repo_dir = snapshot.parent.parent
    repo = repo_dir.resolve()
    if root not in repo.parents:
        raise HubPipelineError(f"{spec}: {repo_dir} leads outside the Hugging Face cache {root} (to {repo}); "
                               "refusing to open it")
    store = repo / "blobs"
    for path, expected in ((repo_dir / "snapshots" / snapshot.name, repo / "snapshots" / snapshot.name),
                           (repo_dir / "blobs", store)):
        real = path.resolve()
        if real != expected:
            raise HubPipelineError(f"{spec}: {path} is a link to {real}, outside its Hugging Face cache repository "
                                   f"{repo}; refusing to open it")
    return store


def pipeline_folder(spec: str) -> Path:
    """The local folder of the hub pipeline ``spec`` (``hf:owner/repo[/subfolder][@rev]``), cache first."""
    from zoo.folders.paths import inside

    try:
        src = parse_hf(spec)
    except ValueError as err:
        raise HubPipelineError(f"{spec!r}: expected 'hf:owner/repo[@revision]' (or 'hf:owner/repo/folder')") from err
    root = hub_fetch(spec, lambda local_only: _snapshot(src, local_only), HubPipelineError, _how_to_get(src))
    return inside(root, src.filename, "subfolder", spec) if src.filename else root
