"""The saved-pipeline folder: ``zoo_pipeline.json`` + ``denoiser.safetensors`` + ``vae/`` (a saved autoencoder).

``zoo_pipeline.json`` holds the component names and card versions, the denoiser's and sampler's
configs, the pipeline options (:class:`~zoo.pipeline.config.PipelineConfig`) and the shape and
dtype of every stored tensor, checked on load. The autoencoder is a saved-autoencoder folder
(:mod:`zoo.autoencoders.saved`), so a pipeline loads offline.

This module only reads and writes folders: :func:`read_pipeline` returns the components and
options, :func:`save_pipeline` writes them; :func:`zoo.pipeline.load_pipeline` builds the pipeline
(and decides between a saved folder and an export, see :func:`export_backend_name`).

A folder is data, never code (see docs/security.md): :data:`SCHEMA` checks ``zoo_pipeline.json``
before any work, every path it names must lie inside the folder, and components are built only
from the registry by name.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import torch

from zoo.errors import ZooError
from zoo.folders.paths import inside
from zoo.folders.schema import Architecture, Either, Int, ListOf, MapOf, Obj, Str, read_json, validate
from zoo.pipeline.config import PipelineConfig, PipelineConfigError, option_schemas
from zoo.registry import Provider, is_distribution_name, is_version

__all__ = [
    "FORMAT", "PIPELINE_FILE", "PipelineFileError", "SavedPipeline", "export_backend_name", "read_pipeline",
    "save_pipeline",
]

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
    ref = {"name": card.name, "version": card.version}
    from zoo.registry import provider

    found = provider(kind, card)
    if found is not None:  # what to install to open the folder (not for process-local registrations)
        ref.update(distribution=found.distribution, distribution_version=found.version)
    return ref


def _tensor_specs(tensors: dict[str, torch.Tensor]) -> dict[str, list]:
    return {k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in sorted(tensors.items())}


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_pipeline(pipe: Any, path: str | os.PathLike, **card: Any) -> Path:
    """Write ``pipe`` (its ``vae``, ``denoiser``, ``sampler`` and ``options``) to the folder ``path``
    (replaced atomically: no half-written folder on failure), with a model card (``card``: options of
    :func:`zoo.pipeline.model_card.model_card`)."""
    from safetensors.torch import save_file

    from zoo import __version__
    from zoo.autoencoders.saved import save_pipeline_autoencoder
    from zoo.folders.atomic import atomic_dir
    from zoo.pipeline.model_card import write_model_card

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
        **pipe.options.to_dict(),
        "tensors": {DENOISER_FILE: _tensor_specs(denoiser_state)},
    }
    folder = Path(path)
    with atomic_dir(folder) as tmp:
        tmp = Path(tmp)
        save_file(denoiser_state, str(tmp / DENOISER_FILE), metadata={"format": FORMAT})
        vae_file = f"{VAE_DIR}/{save_pipeline_autoencoder(pipe.vae, tmp / VAE_DIR)}"
        payload["tensors"][vae_file] = dict(sorted(_header(tmp / vae_file).items()))
        text = json.dumps(payload, indent=2) + "\n"
        validate(json.loads(text), SCHEMA, PIPELINE_FILE)  # never write what opening would refuse
        (tmp / PIPELINE_FILE).write_text(text)
        write_model_card(pipe, tmp, payload, **card)
    return folder


_ST_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
              "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}


def _st_dtype(code: str) -> str:
    return _ST_DTYPES.get(code, code.lower())


def _header(file: Path) -> dict[str, list]:
    """``{tensor name: [dtype, shape]}`` of a safetensors file, from its header (no tensor is read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(file), "pt") as f:
            return {k: [_st_dtype(f.get_slice(k).get_dtype()), list(f.get_slice(k).get_shape())] for k in f.keys()}
    except Exception as err:  # safetensors raises its own errors on truncated or foreign files
        raise PipelineFileError(f"{file}: not a readable safetensors file ({err})") from err


def _check_file(file: Path, expected: dict[str, list]) -> None:
    """Compare a safetensors file's header with the specs recorded in zoo_pipeline.json."""
    if not file.is_file():
        raise PipelineFileError(f"{file}: missing (the pipeline folder is incomplete)")
    _compare(file, _header(file), expected, PIPELINE_FILE)


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


_NAME = Str(what="a component name")
_REF = {"name": _NAME}
_PROVIDER = {"version": Str(), "distribution": Str(test=is_distribution_name, what="a distribution name"),
             "distribution_version": Str(test=is_version, what="a version string")}
"""Optional keys of every component entry: the card's version and the distribution (and version) providing it."""
_TENSOR_SPEC = ListOf(Either((Str(), ListOf(Int(0)))), min_len=2, max_len=2)
OPTIONS, OPTIONAL_OPTIONS = option_schemas()
"""Schemas of the pipeline options (from :class:`~zoo.pipeline.config.PipelineConfig`): those that every
pipeline file holds, and those that older files may lack."""
SCHEMA = Obj(
    {
        "format": Str((FORMAT,)),
        "vae": Obj({**_REF, "path": Str()}, _PROVIDER),
        "denoiser": Obj({**_REF, "config": Architecture(), "file": Str()}, _PROVIDER),
        "sampler": Obj({**_REF, "config": Architecture()}, _PROVIDER),
        **OPTIONS,
        "tensors": MapOf(MapOf(_TENSOR_SPEC), 1),
    },
    {"format_version": Int(1, FORMAT_VERSION), "zoo_version": Str(), **OPTIONAL_OPTIONS},
)
"""Schema of ``zoo_pipeline.json``: checked before anything in the folder is used."""
_EXPORT_HEADER = Obj(optional={"backend": _NAME}, others=True)
"""What zoo reads of an export's ``manifest.json`` (the backend named there checks the rest)."""


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(@[\w./-]+)?")


def _hub_hint(folder: Path) -> str:
    """A hint for a missing folder whose name reads like a hub id (``owner/repo``): hub ids take ``hf:``."""
    text = str(folder)
    if _HUB_ID.fullmatch(text) and not text.startswith("."):
        return f" (for the Hugging Face hub, write 'hf:{text}')"
    return ""


def _read_json(folder: Path) -> tuple[Path, dict[str, Any]]:
    if not folder.is_dir():
        raise PipelineFileError(f"{folder}: pipeline folder not found{_hub_hint(folder)}")
    file = folder / PIPELINE_FILE
    if not os.path.lexists(file) and os.path.lexists(folder / EXPORT_MANIFEST):
        raise PipelineFileError(f"{folder}: an export folder holds no PyTorch weights; this backend cannot open "
                                "exports (open it with the backend that wrote it, or onnxruntime / openvino)")
    if not os.path.lexists(file):
        raise PipelineFileError(f"{folder}: not a zoo pipeline (no {PIPELINE_FILE} or {EXPORT_MANIFEST})")
    file = inside(folder, PIPELINE_FILE, PIPELINE_FILE, folder)
    data = read_json(file)
    if isinstance(data, dict) and data.get("format") != FORMAT:
        raise PipelineFileError(f"{file}: not a zoo pipeline file (format {data.get('format')!r})")
    version = data.get("format_version", 0) if isinstance(data, dict) else 0
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise PipelineFileError(f"{file}: format version {version} is newer than this zoo reads")
    validate(data, SCHEMA, file)
    return file, data


def export_backend_name(folder: str | os.PathLike) -> str | None:
    """The backend named by an export folder's ``manifest.json`` (None: not an export folder)."""
    folder = Path(folder)
    if not os.path.lexists(folder / EXPORT_MANIFEST):
        return None
    return read_json(inside(folder, EXPORT_MANIFEST, EXPORT_MANIFEST, folder), _EXPORT_HEADER).get("backend")


def _needs(ref: dict[str, Any]) -> Provider | None:
    """The distribution a component entry says provides it (None: not recorded, e.g. an older folder)."""
    dist = ref.get("distribution")
    return Provider(dist, ref.get("distribution_version", "")) if dist else None


def check_installed(data: dict[str, Any], file: Path) -> None:
    """Refuse, in one line naming the distribution to install, a folder whose denoiser or sampler is not
    installed (the autoencoder is its own folder's: :func:`_check_vae_installed`)."""
    from zoo.registry import installed_card

    for key in ("denoiser", "sampler"):
        installed_card(key, data[key]["name"], f"{file}: {key}.name", _needs(data[key]))


def _check_vae_installed(vae_dir: Path, ref: dict[str, Any]) -> None:
    """If the component that the saved autoencoder of ``vae_dir`` names is the one that ``ref`` (the ``vae`` entry
    of ``zoo_pipeline.json``) records and is not installed, one line naming its distribution."""
    from zoo.autoencoders.saved import CARD_FILE, read_card_file
    from zoo.registry import installed_card

    card_file = vae_dir / CARD_FILE
    component = read_card_file(card_file).get("component") or {}
    if _needs(ref) is not None and component.get("name") == ref["name"]:
        installed_card("autoencoder", ref["name"], f"{card_file}: component.name", _needs(ref))


def _build(kind: str, ref: dict[str, Any], file: Path, **options: Any) -> Any:
    """The registered ``kind`` that ``ref`` names, built with its stored config (one line if that fails)."""
    from zoo import factory
    from zoo.registry import installed_card

    card = installed_card(kind, ref["name"], f"{file}: {kind}.name")
    try:
        return getattr(factory, f"build_{kind}")(card, **options, **ref["config"])
    except (TypeError, ValueError) as err:
        raise PipelineFileError(f"{file}: {kind}.config does not build the {ref['name']!r} {kind}: {err}") from err


class SavedPipeline(NamedTuple):
    """What a saved-pipeline folder holds: the components (on the CPU, in the stored dtype) and the options."""

    vae: torch.nn.Module
    denoiser: torch.nn.Module
    sampler: Any
    options: PipelineConfig


def read_pipeline(path: str | os.PathLike) -> SavedPipeline:
    """The components and options of the saved-pipeline folder ``path`` (never an export folder).

    Nothing the folder names is imported: components resolve through the registry, every JSON file is
    checked against its schema first, and every path it names must lie inside it.
    """
    from safetensors.torch import load_file

    from zoo.autoencoders.saved import CARD_FILE, open_saved_autoencoder
    from zoo.utils.random_init import weights_follow

    folder = Path(path).expanduser()
    file, data = _read_json(folder)
    try:
        options = PipelineConfig.from_dict(data)
    except PipelineConfigError as err:
        raise PipelineFileError(f"{file}: {err}") from err
    vae_dir = inside(folder, data["vae"]["path"], "vae.path", file)
    if not os.path.lexists(vae_dir / CARD_FILE):
        raise PipelineFileError(f"{file}: vae.path: {vae_dir} is not a saved autoencoder folder (no {CARD_FILE})")
    _check_vae_installed(vae_dir, data["vae"])  # a missing plugin first, named with its distribution
    check_installed(data, file)
    sampler = _build("sampler", data["sampler"], file)  # options checked before any tensor is read
    for name, specs in data["tensors"].items():
        _check_file(inside(folder, name, f"tensors[{name!r}]", file), specs)
    vae = open_saved_autoencoder(vae_dir).to(dtype=options.dtype)
    if vae.card.name != data["vae"]["name"]:
        raise PipelineFileError(f"{file}: vae.name {data['vae']['name']!r} differs from the name in "
                                f"{vae_dir / CARD_FILE} ({vae.card.name!r})")
    den = data["denoiser"]
    with weights_follow():  # its weights are loaded below: no random-init fingerprint to take
        denoiser = _build("denoiser", den, file, pretrained=False).to(dtype=options.dtype)
    weights = inside(folder, den["file"], "denoiser.file", file)
    _compare(weights, _header(weights), _tensor_specs(denoiser.state_dict()),
             f"the {den['name']!r} denoiser built from its config")
    denoiser.load_state_dict(load_file(str(weights)), strict=True)
    return SavedPipeline(vae, denoiser.eval(), sampler, options)
