"""Backend cards that zoo-export registers in the ``zoo.backends`` entry-point group (pure data)."""

from __future__ import annotations

from zoo.cards import BackendCard

ONNXRUNTIME = BackendCard(
    name="onnxruntime",
    factory="zoo_export.backends:OnnxRuntimeBackend",
    devices=("cpu", "cuda"),
    requires=("onnx", "onnxruntime"),
    aliases=("ort", "onnx"),
    description="ONNX Runtime sessions of the exported encoder, denoiser and decoder (fp32, or fp16 files).",
    license="MIT",
    source={"code": "https://github.com/microsoft/onnxruntime"},
)
TENSORRT = BackendCard(
    name="tensorrt",
    factory="zoo_export.backends:TensorRTBackend",
    devices=("cuda",),
    requires=("tensorrt", "onnx"),
    aliases=("trt",),
    description="Strongly typed fp16 TensorRT engines built from the fp16 ONNX (TensorRT 10.x/11.x, CUDA only).",
    license="Apache-2.0",
    source={"code": "https://github.com/NVIDIA/TensorRT"},
)
OPENVINO = BackendCard(
    name="openvino",
    factory="zoo_export.backends:OpenVinoBackend",
    devices=("cpu",),
    requires=("onnx", "openvino"),
    aliases=("ov",),
    description="OpenVINO CPU inference of the exported ONNX stages; bf16 where the CPU has it (the fast CPU path).",
    license="Apache-2.0",
    source={"code": "https://github.com/openvinotoolkit/openvino"},
)
