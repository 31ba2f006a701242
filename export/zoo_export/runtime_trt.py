"""TensorRT execution of exported engines (the ``tensorrt`` backend is :mod:`zoo_export.backends`).

Loading order matters: manifest + sha256 check, then CUDA check, then ``import tensorrt``, then
the engine's TensorRT version / GPU / compute capability are compared with this machine, and only
then is the plan deserialised (a foreign plan is refused with a clear error instead of a crash).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from zoo_export.manifest import ManifestError, verify_export
from zoo_export.trt import check_engine_compatible, current_environment, import_tensorrt


def _torch_dtype(trt: Any, dtype: Any) -> torch.dtype:
    table = {
        trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16,
        trt.DataType.INT32: torch.int32, trt.DataType.INT64: torch.int64, trt.DataType.BOOL: torch.bool,
    }
    if hasattr(trt.DataType, "BF16"):
        table[trt.DataType.BF16] = torch.bfloat16
    return table[dtype]


class TrtEngine:
    """One deserialised engine with an execution context; runs on the current CUDA stream."""

    def __init__(self, trt: Any, runtime: Any, plan: bytes, name: str) -> None:
        self.trt = trt
        self.name = name
        self.engine = runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise RuntimeError(f"TensorRT could not deserialise the {name} engine")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]

    def _check_profile(self, name: str, shape: tuple[int, ...]) -> None:
        lo, _, hi = self.engine.get_tensor_profile_shape(name, 0)
        if any(s < a or s > b for s, a, b in zip(shape, lo, hi, strict=True)):
            raise ValueError(
                f"{self.name}: input {name} shape {list(shape)} is outside the engine profile "
                f"{list(lo)}..{list(hi)}; re-export with a wider --batch/--size"
            )

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        stream = torch.cuda.current_stream()
        keep = []
        for name, x in zip(self.inputs, inputs, strict=True):
            self._check_profile(name, tuple(x.shape))
            x = x.to("cuda", _torch_dtype(self.trt, self.engine.get_tensor_dtype(name))).contiguous()
            keep.append(x)
            self.context.set_input_shape(name, tuple(x.shape))
            self.context.set_tensor_address(name, x.data_ptr())
        outs = []
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            out = torch.empty(shape, device="cuda", dtype=_torch_dtype(self.trt, self.engine.get_tensor_dtype(name)))
            self.context.set_tensor_address(name, out.data_ptr())
            outs.append(out)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"{self.name}: TensorRT execution failed")
        return outs[0].float()


class TrtRuntime:
    """encode / decode / denoise through the TensorRT engines of a verified zoo-export folder."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        manifest = verify_export(root)
        missing = [n for n, s in manifest["stages"].items() if "engine" not in s]
        if missing:
            raise ManifestError(f"{root}: no TensorRT engine for {', '.join(missing)} (exported with --backend onnx?)")
        trt = import_tensorrt()  # CUDA is checked inside, before TensorRT is imported
        here = current_environment(trt)
        for stage in manifest["stages"].values():
            check_engine_compatible(stage["engine"], here)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engines = {
            name: TrtEngine(trt, runtime, (root / stage["engine"]["file"]).read_bytes(), name)
            for name, stage in manifest["stages"].items()
        }

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.engines["encoder"](x).to(x.device)

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.engines["denoiser"](x_t, t.long(), cond).to(x_t.device)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.engines["decoder"](z).to(z.device)
