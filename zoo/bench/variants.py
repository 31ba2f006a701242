"""What ``--backends`` names: a runtime backend plus the precision it runs in.

``torch`` (eager fp32) is the reference every ratio is taken against; it is always measured, first,
in the same run. Names not listed here are taken as registered backends (plugins) run in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REFERENCE = "torch"


@dataclass(frozen=True)
class Variant:
    """One column of the benchmark: ``backend`` (a registered backend name) at ``precision``."""

    name: str
    backend: str
    precision: str = "fp32"
    cuda_only: bool = False
    cpu_only: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.name, "runtime": self.backend, "precision": self.precision}


KNOWN: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("torch", "torch", "fp32", description="PyTorch eager fp32 (the reference)"),
        Variant("torch-bf16", "torch", "bf16", description="PyTorch eager, bf16 weights and activations"),
        Variant("torch-fp16", "torch", "fp16", cuda_only=True, description="PyTorch eager fp16"),
        Variant("torch-compile", "torch-compile", "fp16", cuda_only=True,
                description="torch.compile, fp16 denoiser, CUDA graphs"),
        Variant("onnxruntime", "onnxruntime", "fp32", description="ONNX Runtime, fp32 ONNX files"),
        Variant("onnxruntime-fp16", "onnxruntime", "fp16", description="ONNX Runtime, fp16 ONNX files"),
        Variant("openvino", "openvino", "fp32", cpu_only=True, description="OpenVINO CPU, fp32 ONNX files"),
        Variant("openvino-bf16", "openvino", "bf16", cpu_only=True,
                description="OpenVINO CPU, fp32 ONNX files computed in bf16 (CPUs with native bf16)"),
        Variant("tensorrt", "tensorrt", "fp16", cuda_only=True, description="TensorRT fp16 engines"),
    )
}
ALIASES = {"eager": "torch", "bf16": "torch-bf16", "compile": "torch-compile", "ort": "onnxruntime",
           "onnx": "onnxruntime", "ort-fp16": "onnxruntime-fp16", "onnx-fp16": "onnxruntime-fp16", "trt": "tensorrt",
           "ov": "openvino", "ov-bf16": "openvino-bf16"}
ALL = tuple(KNOWN)


def variant(name: str) -> Variant:
    """The variant called ``name`` (known name, alias, or another registered backend in fp32)."""
    name = ALIASES.get(name.strip().lower(), name.strip().lower())
    if name in KNOWN:
        return KNOWN[name]
    from zoo.registry import get_card

    card = get_card("backend", name)  # raises UnknownComponentError with the registered names
    return Variant(card.name, card.name, "fp32", cuda_only="cpu" not in card.devices,
                   cpu_only=tuple(card.devices) == ("cpu",), description=card.description)


def parse_variants(spec: str | list[str] | tuple[str, ...]) -> list[Variant]:
    """``'torch,onnxruntime'`` (or ``'all'``) -> variants, the reference first, duplicates dropped."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n for n in names if n.strip()]
    if [n.strip().lower() for n in names] == ["all"]:
        names = list(ALL)
    out = [KNOWN[REFERENCE]]
    for name in names:
        v = variant(name)
        if v not in out:
            out.append(v)
    return out
