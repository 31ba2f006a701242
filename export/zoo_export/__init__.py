"""zoo-export: compile a zoo SR pipeline's encoder, denoiser and decoder to ONNX Runtime or fp16 TensorRT.

Light to import: the heavy modules (torch, onnx, onnxruntime, tensorrt) load on first use.
"""

from __future__ import annotations

from zoo.utils.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "ExportOptions": "zoo_export.options",
    "export_stages": "zoo_export.exporter",
    "export_pipeline": "zoo_export.exporter",
    "load_manifest": "zoo_export.manifest",
    "verify_export": "zoo_export.manifest",
    "ManifestError": "zoo_export.manifest",
    "OrtRuntime": "zoo_export.runtime_ort",
    "OpenVinoRuntime": "zoo_export.runtime_openvino",
    "TrtRuntime": "zoo_export.runtime_trt",
}

__all__ = ["__version__", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
