"""``zoo encode``: a prepared folder -> latents in safetensors shards keyed by id (resumable).

Cache layout::

    CACHE/cache.json              VAE name + card, weights sha256, preprocessing, shapes, latent stats
    CACHE/manifest.csv            copy of the prepared manifest (ids, subjects, splits)
    CACHE/shards/shard-NNNNN.safetensors   tensors "<id>/hr", "<id>/lr", "<id>/lr_up"

HR is encoded at full size and LR at its native size (the paper's protocol); ``lr_up`` is the latent of
the bicubic-upsampled LR (the ``bicubic-latent`` conditioning). Each shard is written atomically, so a
killed run resumes without redoing finished ids. Per-channel mean/std of the train split's latents
are recorded when the cache is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.errors import DataError
from zoo.data.manifest import Record, read_manifest
from zoo.data.pngio import load_unit
from zoo.folders.atomic import atomic_path, write_bytes, write_text

KEYS = ("hr", "lr", "lr_up")
CACHE_FILES = ("cache.json", "manifest.csv", "shards")  # what encode_dataset writes into its folder
UPSAMPLE = "torch bicubic (align_corners=False, antialias=False) of the [0, 1] LR to the HR size, clamped to [0, 1]"


def weights_fingerprint(weights: str | os.PathLike | None, untrained: bool) -> str | None:
    """sha256 of the weights file ('untrained' for random weights; a folder hashes its single weights file)."""
    if untrained:
        return "untrained"
    if weights is None:
        return None
    from zoo.weights import _single_weights_file, resolve, sha256_file

    path = resolve(weights)
    return sha256_file(_single_weights_file(path) if path.is_dir() else path)


def shard_files(cache: Path) -> list[Path]:
    return sorted((cache / "shards").glob("shard-*.safetensors"))


@contextlib.contextmanager
def open_shard(shard: Path, framework: str = "pt"):
    """``safe_open`` of a latent shard; a truncated or corrupt shard is a one-line :class:`DataError` naming it."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(shard), framework=framework) as fh:
            yield fh
    except (SafetensorError, OSError) as err:
        raise DataError(shard, f"corrupt or truncated latent shard ({' '.join(str(err).split())}); delete it "
                               "and run `zoo encode` again to re-encode its ids") from None


def finished_ids(cache: Path) -> set[str]:
    """Ids whose tensors are all stored in complete shards."""
    done: set[str] = set()
    for shard in shard_files(cache):
        with open_shard(shard) as fh:
            keys = set(fh.keys())
        done.update(k.rsplit("/", 1)[0] for k in keys if k.endswith("/hr"))
    return done


def _settings(vae, vae_name: str, weights: Any, sha: str | None, data: Path, prep: dict, overrides: dict) -> dict:
    card = getattr(vae, "card", None)
    return {
        "vae": vae_name,
        "vae_overrides": overrides,
        "vae_card": card.to_dict() if card is not None and hasattr(card, "to_dict") else None,
        "weights": None if weights is None else str(weights),
        "weights_sha256": sha,
        "latent_channels": int(vae.latent_channels),
        "downsample_factor": int(vae.downsample_factor),
        "data": str(data.resolve()),
        "scale": prep.get("scale"),
        "hr_size": prep.get("hr_size"),
        "lr_size": prep.get("lr_size"),
        "preprocessing": {
            "input": "prepared 16-bit PNG / 65535 -> [0, 1]",
            "to_model_input": "zoo.autoencoders.preprocess.to_model_input (channel adapt, card intensity "
                              f"{getattr(card, 'intensity', '?')!r} by the LR's range, then x * 2 - 1)",
            "encode": "posterior mode, fp32",
            "lr_up": UPSAMPLE,
        },
    }


def _same_run(old: dict, new: dict) -> list[str]:
    keys = ("vae", "vae_overrides", "weights_sha256", "latent_channels", "downsample_factor", "data", "preprocessing")
    return [k for k in keys if old.get(k) != new.get(k)]


def encode_dataset(data: str | os.PathLike, out: str | os.PathLike, vae, vae_name: str, weights: Any = None,
                   weights_sha256: str | None = None, batch_size: int = 8, device: str = "cpu",
                   overwrite: bool = False, progress: bool = True, limit: int | None = None,
                   vae_overrides: dict | None = None) -> dict:
    """Encode every pair of the prepared folder ``data`` with ``vae`` into the cache ``out``.

    Resumes an interrupted cache made with the same VAE, weights and data (finished ids are skipped);
    a cache made with different settings is an error unless ``overwrite``, and so is a non-empty
    ``out`` that holds anything but a cache; ``overwrite`` replaces only the cache's own files
    (``cache.json``, ``manifest.csv``, ``shards/``). ``limit`` stops after that
    many new ids. ``vae_overrides`` (architecture overrides used to build ``vae``) are recorded.
    Returns the cache's ``cache.json`` content.
    """
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    from zoo.autoencoders.preprocess import to_model_input
    from zoo.folders.guard import prepare_output

    data, out = Path(data), Path(out)
    prepare_output(out, inputs=[data, weights if isinstance(weights, str | os.PathLike) else None],
                   overwrite=overwrite, will_write=CACHE_FILES, allow=CACHE_FILES)
    records = read_manifest(data)
    prep = _read_folder_json(data / "prepare.json") if (data / "prepare.json").exists() else {}
    settings = _settings(vae, vae_name, weights, weights_sha256, data, prep, vae_overrides or {})
    f = int(vae.downsample_factor)
    meta_path = out / "cache.json"
    if meta_path.exists():
        old = _read_folder_json(meta_path)
        changed = _same_run(old, settings)
        if changed and not overwrite:
            raise DataError(out, f"cache was made with different {', '.join(changed)} (pass --overwrite to start over)")
        if changed:  # start over: remove only the cache's own files
            shutil.rmtree(out / "shards", ignore_errors=True)
            meta_path.unlink()
    (out / "shards").mkdir(parents=True, exist_ok=True)
    for stale in (out / "shards").glob(".shard-*"):  # temp files of a killed run
        stale.unlink()
    write_text(meta_path, json.dumps({**settings, "complete": False}, indent=2) + "\n")
    write_bytes(out / "manifest.csv", (data / "manifest.csv").read_bytes())
    done = finished_ids(out)
    todo = [r for r in records if r.id not in done]
    if limit is not None:
        todo = todo[:limit]
    vae = vae.to(device).eval()
    next_index = len(shard_files(out))
    with tqdm(total=len(records), initial=len(done), desc="encode", unit="img", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            tensors = encode_batch(batch, data, vae, f, device, to_model_input)
            shard = out / "shards" / f"shard-{next_index:05d}.safetensors"
            while shard.exists():
                next_index += 1
                shard = out / "shards" / f"shard-{next_index:05d}.safetensors"
            with atomic_path(shard) as tmp:
                save_file(tensors, str(tmp), metadata={"ids": json.dumps([r.id for r in batch])})
            next_index += 1
            bar.update(len(batch))
    finished = finished_ids(out)
    complete = all(r.id in finished for r in records)
    result = {**settings, "complete": complete, "count": len(finished), "shards": len(shard_files(out))}
    if complete:
        result["stats"] = latent_stats(out, records)
    write_text(meta_path, json.dumps(result, indent=2) + "\n")
    return result


def _check_size(path: Path, shape: tuple[int, ...], f: int, what: str) -> None:
    if shape[0] % f or shape[1] % f:
        raise DataError(path, f"{what} size {shape[0]}x{shape[1]} is not a multiple of the VAE's factor {f}")


def encode_batch(batch: list[Record], data: Path, vae, f: int, device: str, to_model_input) -> dict:
    """Latents of one batch: ``{"<id>/hr": C x H/f x W/f, "<id>/lr": ..., "<id>/lr_up": ...}`` (fp32, CPU)."""
    import torch

    from zoo.ops.resample import upsample_lr

    hrs, lrs = [], []
    for rec in batch:
        hr, lr = load_unit(data / rec.hr), load_unit(data / rec.lr)
        _check_size(data / rec.hr, hr.shape, f, "HR")
        _check_size(data / rec.lr, lr.shape, f, "LR")
        hrs.append(torch.from_numpy(hr)[None, None])
        lrs.append(torch.from_numpy(lr)[None, None])
    out: dict[str, torch.Tensor] = {}
    same = len({tuple(t.shape) for t in hrs}) == 1 and len({tuple(t.shape) for t in lrs}) == 1
    groups = [list(range(len(batch)))] if same else [[i] for i in range(len(batch))]
    with torch.no_grad():
        for idx in groups:
            hr = torch.cat([hrs[i] for i in idx]).to(device)
            lr = torch.cat([lrs[i] for i in idx]).to(device)
            lr_up = upsample_lr(lr, tuple(hr.shape[-2:]))
            for key, x in (("hr", hr), ("lr", lr), ("lr_up", lr_up)):
                z = vae.encode(to_model_input(x.float(), vae, range_from=lr.float())).float().cpu()
                for j, i in enumerate(idx):
                    out[f"{batch[i].id}/{key}"] = z[j].contiguous()
    return out


def latent_stats(cache: Path, records: list[Record]) -> dict:
    """Per-channel mean/std of each latent kind over the train split (all records if there is none)."""
    split = "train" if any(r.split == "train" for r in records) else "all"
    wanted = {r.id for r in records if split == "all" or r.split == split}
    sums: dict[str, list[np.ndarray]] = {}
    for shard in shard_files(cache):
        with open_shard(shard, "numpy") as fh:
            for key in fh.keys():
                rid, kind = key.rsplit("/", 1)
                if rid not in wanted:
                    continue
                z = fh.get_tensor(key).astype(np.float64)
                z = z.reshape(z.shape[0], -1)
                acc = sums.setdefault(kind, [np.zeros(z.shape[0]), np.zeros(z.shape[0]), np.zeros(1)])
                acc[0] += z.sum(1)
                acc[1] += (z * z).sum(1)
                acc[2] += z.shape[1]
    stats: dict[str, Any] = {"split": split, "ids": len(wanted)}
    for kind, (s, ss, n) in sums.items():
        mean = s / n
        std = np.sqrt(np.maximum(ss / n - mean * mean, 0.0))
        stats[kind] = {"mean": mean.tolist(), "std": std.tolist()}
    return stats


def read_cache(cache: str | os.PathLike) -> dict:
    """The cache's ``cache.json`` (a :class:`DataError` if the folder is not a latent cache)."""
    path = Path(cache) / "cache.json"
    if not path.exists():
        raise DataError(cache, "not a latent cache (no cache.json; run `zoo encode` first)")
    return _read_folder_json(path)


def _read_folder_json(path: Path) -> dict:
    """A JSON object of a prepared folder or latent cache (a plain, size- and depth-capped file; else one line)."""
    from zoo.folders.schema import FolderSchemaError, read_json

    try:
        data = read_json(path)
    except FolderSchemaError as err:
        raise DataError(None, str(err)) from err
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object")
    return data


def load_latents(cache: str | os.PathLike, ids: set[str] | None = None, keys: tuple[str, ...] = KEYS) -> dict:
    """``{id: {key: tensor}}`` for ``ids`` (all if None) from the cache's shards."""
    found: dict[str, dict] = {}
    for shard in shard_files(Path(cache)):
        with open_shard(shard) as fh:
            for key in fh.keys():
                rid, kind = key.rsplit("/", 1)
                if kind in keys and (ids is None or rid in ids):
                    found.setdefault(rid, {})[kind] = fh.get_tensor(key)
    return found
