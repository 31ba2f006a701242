"""The saved-pipeline folder: ``zoo_pipeline.json`` + ``denoiser.safetensors`` + ``vae/`` (a saved autoencoder).

``zoo_pipeline.json`` holds the component names and card versions, the denoiser's and sampler's
configs, the pipeline options (schedule, conditioning, scale, steps, latent stats, dtype) and the
shape and dtype of every stored tensor, checked on load. The autoencoder is saved with its card and
config (``zoo.autoencoders.loading.save_autoencoder``), so a pipeline loads offline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.latents import LatentStats

__all__ = ["FORMAT", "PIPELINE_FILE", "PipelineFileError", "open_pipeline", "save_pipeline"]

FORMAT = "zoo-pipeline"
FORMAT_VERSION = 1
PIPELINE_FILE = "zoo_pipeline.json"
DENOISER_FILE = "denoiser.safetensors"
VAE_DIR = "vae"
EXPORT_MANIFEST = "manifest.json"


class PipelineFileError(ZooError, ValueError):
    """A pipeline folder is missing a file, or a stored tensor does not fit the architecture."""


def _card_ref(component: Any, kind: str) -> dict[str, Any]:
    card = getattr(component, "card", None)
    if card is None:
        raise PipelineFileError(
            f"cannot save a {kind} without a card ({type(component).__name__}): build it with zoo.build_{kind}(NAME)"
        )
    return {"name": card.name, "version": card.version}


def _tensor_specs(tensors: dict[str, torch.Tensor]) -> dict[str, list]:
    return {k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in sorted(tensors.items())}


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_pipeline(pipe: Any, path: str | os.PathLike) -> Path:
    """Write ``pipe`` to the folder ``path`` (replaced atomically: no half-written folder on failure)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from zoo import __version__
    from zoo.atomic import atomic_dir
    from zoo.autoencoders.loading import WEIGHTS_FILE, save_autoencoder

    config = getattr(pipe.denoiser, "config", None)
    if not isinstance(config, dict):
        raise PipelineFileError("cannot save a denoiser without a 'config' dict of its factory arguments")
    sampler = {**_card_ref(pipe.sampler, "sampler"), "config": dict(pipe.sampler.config)}
    denoiser_state = _state(pipe.denoiser)
    payload = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "zoo_version": __version__,
        "vae": {**_card_ref(pipe.vae, "autoencoder"), "path": VAE_DIR},
        "denoiser": {**_card_ref(pipe.denoiser, "denoiser"), "config": config, "file": DENOISER_FILE},
        "sampler": sampler,
        **pipe.config(),
        "tensors": {DENOISER_FILE: _tensor_specs(denoiser_state)},
    }
    folder = Path(path)
    with atomic_dir(folder) as tmp:
        tmp = Path(tmp)
        save_file(denoiser_state, str(tmp / DENOISER_FILE), metadata={"format": FORMAT})
        save_autoencoder(pipe.vae, tmp / VAE_DIR)
        vae_file = f"{VAE_DIR}/{WEIGHTS_FILE}"
        with safe_open(str(tmp / vae_file), "pt") as f:
            payload["tensors"][vae_file] = {
                k: [_st_dtype(f.get_slice(k).get_dtype()), list(f.get_slice(k).get_shape())] for k in sorted(f.keys())
            }
        (tmp / PIPELINE_FILE).write_text(json.dumps(payload, indent=2) + "\n")
    return folder


_ST_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
              "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}


def _st_dtype(code: str) -> str:
    return _ST_DTYPES.get(code, code.lower())


def _check_file(folder: Path, name: str, expected: dict[str, list]) -> None:
    """Compare a safetensors file's header with the specs recorded in zoo_pipeline.json."""
    from safetensors import safe_open

    file = folder / name
    if not file.is_file():
        raise PipelineFileError(f"{file}: missing (the pipeline folder is incomplete)")
    with safe_open(str(file), "pt") as f:
        found = {k: [_st_dtype(f.get_slice(k).get_dtype()), list(f.get_slice(k).get_shape())] for k in f.keys()}
    _compare(file, found, expected, "zoo_pipeline.json")


def _compare(file: Path, found: dict[str, list], expected: dict[str, list], against: str) -> None:
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise PipelineFileError(f"{file}: tensor names differ from {against}: missing {missing[:4]}, extra {extra[:4]}")
    for key in sorted(expected):
        if found[key] != list(expected[key]):
            (fd, fs), (ed, es) = found[key], expected[key]
            raise PipelineFileError(
                f"{file}: tensor {key!r} is {fd} {tuple(fs)}, but {against} expects {ed} {tuple(es)}"
            )


def _read_json(folder: Path) -> dict[str, Any]:
    file = folder / PIPELINE_FILE
    if not folder.is_dir():
        raise PipelineFileError(f"{folder}: pipeline folder not found")
    if not file.is_file() and (folder / EXPORT_MANIFEST).is_file():
        raise PipelineFileError(f"{folder}: an export folder holds no PyTorch weights; this backend cannot open "
                                "exports (open it with the backend that wrote it, or onnxruntime / openvino)")
    if not file.is_file():
        raise PipelineFileError(f"{folder}: not a zoo pipeline (no {PIPELINE_FILE} or {EXPORT_MANIFEST})")
    try:
        data = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise PipelineFileError(f"{file}: cannot read ({err})") from err
    if data.get("format") != FORMAT:
        raise PipelineFileError(f"{file}: not a zoo pipeline file (format {data.get('format')!r})")
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise PipelineFileError(f"{file}: format version {data['format_version']} is newer than this zoo reads")
    return data


def open_pipeline(
    path: str | os.PathLike, device: torch.device | str = "cpu", backend: Any = None, follow_export: bool = True
):
    """An :class:`~zoo.pipeline.SRPipeline` from a saved folder (run by ``backend``, default torch), or
    (``follow_export``) from an export folder via ``build_backend(backend or manifest["backend"]).load(path)``;
    a backend's own ``load`` passes ``follow_export=False``."""
    from safetensors.torch import load_file

    from zoo.autoencoders.loading import autoencoder_from_path
    from zoo.factory import build_backend, build_denoiser, build_sampler
    from zoo.pipeline import SRPipeline, _parse_dtype
    from zoo.samplers.schedules import make_schedule

    folder = Path(path).expanduser()
    manifest = folder / EXPORT_MANIFEST
    if follow_export and manifest.is_file():
        try:
            export = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise PipelineFileError(f"{manifest}: cannot read ({err})") from err
        if "backend" in export:
            opener = build_backend(backend or export["backend"]) if isinstance(backend, str | None) else backend
            if not hasattr(opener, "load"):
                raise PipelineFileError(f"{folder}: an export folder; this backend cannot open exports "
                                        f"(open it with {export['backend']!r})")
            return opener.load(folder)
    data = _read_json(folder)
    dtype = _parse_dtype(data.get("dtype"))
    for name, specs in data["tensors"].items():
        _check_file(folder, name, specs)
    vae = autoencoder_from_path(folder / data["vae"]["path"]).to(dtype=dtype)
    den = data["denoiser"]
    denoiser = build_denoiser(den["name"], pretrained=False, **den["config"]).to(dtype=dtype)
    state = load_file(str(folder / den["file"]))
    _compare(folder / den["file"], _tensor_specs(state), _tensor_specs(denoiser.state_dict()),
             f"the {den['name']!r} denoiser built from its config")
    denoiser.load_state_dict(state, strict=True)
    sampler = build_sampler(data["sampler"]["name"], **data["sampler"]["config"])
    return SRPipeline(
        vae, denoiser.eval(), sampler, make_schedule(data["schedule"]), steps=data["steps"], scale=data["scale"],
        conditioning=data["conditioning"], residual=data["residual"], pixel_skip=data.get("pixel_skip", False),
        data_consistency=data.get("data_consistency", 0),
        latent_stats=LatentStats.from_dict(data["latent_stats"]), backend=backend or "torch", device=device,
        dtype=dtype,
    )
