"""torch -> ONNX for one stage, with the exporter traps handled (reference export.md §0, §1.2).

* ``dynamo=`` is always passed explicitly (torch >= 2.9 silently defaults to the dynamo exporter).
* The dynamo exporter gets a **batch-2** example: with batch 1 it specialises the batch dim to 1
  (encoder/decoder fail, the UNet export "succeeds" but is silently static).
* After export the file's input/output dims are read back and checked, so a static batch can never
  pass as dynamic.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn

from zoo.errors import ZooError

EXTERNAL_DATA_BYTES = 1_500_000_000  # the protobuf limit is 2 GiB; leave room for the graph
LEGACY_OPSET = 17
MAX_BATCH = 1024


class ExportError(ZooError, RuntimeError):
    """An ONNX export failed or produced a file that does not match what was asked."""


@dataclass(frozen=True)
class OnnxFile:
    """What was written: the path, the opset, whether weights are external, and the I/O signature."""

    path: Path
    opset: int
    external_data: bool
    inputs: list[dict]
    outputs: list[dict]


def parameter_bytes(module: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers()
    )


def _legacy_axes(example: Sequence[torch.Tensor], dynamic_hw: bool) -> list[dict[int, str]]:
    """Per input: axis -> symbolic name (batch always; H/W of 4-D inputs if asked)."""
    dims = []
    for x in example:
        axes = {0: "batch"}
        if dynamic_hw and x.ndim == 4:
            axes.update({2: "height", 3: "width"})
        dims.append(axes)
    return dims


def _dynamo_shapes(example: Sequence[torch.Tensor], dynamic_hw: bool, hw_multiple: int) -> tuple[dict, ...]:
    """One shared batch Dim for every input; H/W as ``hw_multiple * Dim`` so divisibility guards hold."""
    from torch.export import Dim

    batch = Dim("batch", min=1, max=MAX_BATCH)
    h, w = Dim("h", min=1, max=4096), Dim("w", min=1, max=4096)
    height, width = (h * hw_multiple, w * hw_multiple) if hw_multiple > 1 else (h, w)
    shapes = []
    for x in example:
        axes = {0: batch}
        if dynamic_hw and x.ndim == 4:
            axes.update({2: height, 3: width})
        shapes.append(axes)
    return tuple(shapes)


def _value_info_dict(value: onnx.ValueInfoProto) -> dict:
    tensor = value.type.tensor_type
    shape = [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in tensor.shape.dim]
    return {"name": value.name, "shape": shape, "dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name}


def read_signature(path: str | Path) -> tuple[list[dict], list[dict], int]:
    """Inputs, outputs (name, shape with symbolic dims as strings, dtype) and opset of an ONNX file."""
    model = onnx.load(str(path), load_external_data=False)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return [_value_info_dict(v) for v in model.graph.input], [_value_info_dict(v) for v in model.graph.output], opset


def check_dynamic_dims(path: str | Path, names_in: Sequence[str], dynamic_hw: bool) -> None:
    """Raise :class:`ExportError` unless every input/output has a symbolic batch (and H/W if asked)."""
    inputs, outputs, _ = read_signature(path)
    if [i["name"] for i in inputs] != list(names_in):
        raise ExportError(f"{path}: inputs are {[i['name'] for i in inputs]}, expected {list(names_in)}")
    for io in inputs + outputs:
        axes = [0] + ([2, 3] if dynamic_hw and len(io["shape"]) == 4 else [])
        static = [a for a in axes if not isinstance(io["shape"][a], str) or io["shape"][a] == "?"]
        if static:
            raise ExportError(
                f"{path}: {io['name']} has shape {io['shape']}; axes {static} should be dynamic "
                "(the exporter specialised them: see reference export.md §0)"
            )


def export_onnx(
    module: nn.Module,
    example: Sequence[torch.Tensor],
    path: str | Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamo: bool = True,
    dynamic_hw: bool = False,
    hw_multiple: int = 1,
    opset: int | None = None,
) -> OnnxFile:
    """Export ``module(*example)`` to ``path`` with a dynamic batch and verify the file.

    ``example`` must have batch 2 for the dynamo exporter. With ``dynamic_hw`` the 4-D inputs get
    symbolic H/W that are multiples of ``hw_multiple`` (the VAE factor for images, the denoiser's
    size multiple for its latents).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    if dynamo and example[0].shape[0] < 2:
        raise ExportError("the dynamo exporter needs a batch >= 2 example (batch 1 specialises the batch dim)")
    external = parameter_bytes(module) > EXTERNAL_DATA_BYTES
    kwargs: dict = dict(input_names=list(input_names), output_names=list(output_names), dynamo=dynamo)
    if dynamo:
        shapes = _dynamo_shapes(example, dynamic_hw, hw_multiple)
        kwargs.update(dynamic_shapes=shapes, external_data=external, optimize=True)
        if opset is not None:
            kwargs["opset_version"] = opset
    else:
        axes = dict(zip(input_names, _legacy_axes(example, dynamic_hw), strict=True))
        axes.update({n: {0: "batch"} for n in output_names})
        kwargs.update(dynamic_axes=axes, opset_version=opset or LEGACY_OPSET, do_constant_folding=True)
        if external:
            kwargs["external_data"] = True
    # torchvision is absent on purpose (CPU torch): silence the exporter's per-op notices about it
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, torch.jit.TracerWarning):
            warnings.simplefilter("ignore", category)
        warnings.filterwarnings("ignore", message=".*axis name.*will not be used.*")
        try:
            torch.onnx.export(module, tuple(example), str(path), verbose=False, **kwargs)
        except Exception as err:
            raise ExportError(f"ONNX export of {type(module).__name__} failed: {type(err).__name__}: {err}") from err
    onnx.checker.check_model(str(path))
    check_dynamic_dims(path, input_names, dynamic_hw)
    inputs, outputs, file_opset = read_signature(path)
    return OnnxFile(path=path, opset=file_opset, external_data=external, inputs=inputs, outputs=outputs)


def external_locations(path: str | Path) -> list[str]:
    """The ``location`` strings of the ONNX file's external-data tensors, sorted (a function of its bytes)."""
    model = onnx.load(str(path), load_external_data=False)
    return sorted({
        entry.value
        for init in model.graph.initializer
        if init.data_location == onnx.TensorProto.EXTERNAL
        for entry in init.external_data
        if entry.key == "location"
    })


def onnx_files(path: str | Path) -> list[Path]:
    """The model file and its external-data files (everything a session needs)."""
    path = Path(path)
    return [path, *sorted(path.parent / loc for loc in external_locations(path))]
