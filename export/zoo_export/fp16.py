"""fp16 ONNX conversion and a CPU check for fp16 overflow (reference export.md §1.5, §5).

ONNX Runtime's CPU provider cannot reveal fp16 overflow: it runs fp16 Conv/InstanceNorm in fp32.
:func:`emulate_fp16_storage` rewrites an fp32 graph so that every float tensor (weights and every
node output) is rounded through fp16 storage (``Cast(fp16) -> Cast(fp32)``) while compute stays
fp32. Run with all graph optimisations disabled, it turns any activation above 65504 into inf/NaN,
which is the usual fp16 VAE failure. It does not model fp16 accumulation inside kernels, so the
final word still belongs to the real engine on a GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP16_MAX = 65504.0


def convert_to_fp16(src: str | Path, dst: str | Path, keep_io_types: bool = True) -> Path:
    """Write an fp16 copy of the fp32 ONNX ``src`` to ``dst`` (I/O kept fp32 if ``keep_io_types``).

    Existing ``Cast(to=float)`` nodes (legacy TorchScript exports) are kept in fp32: converting them
    gives an invalid model (onnxconverter-common). Never block every Cast: that conversion hangs.
    """
    from onnxconverter_common import float16

    src_files_large = sum(f.stat().st_size for f in Path(src).parent.glob(f"{Path(src).name}*")) > 1_500_000_000
    model = onnx.load(str(src))
    casts = [
        n.name for n in model.graph.node
        if n.op_type == "Cast" and any(a.name == "to" and a.i == TensorProto.FLOAT for a in n.attribute)
    ]
    if src_files_large:  # in-memory shape inference is limited to 2 GiB protos
        onnx.shape_inference.infer_shapes_path(str(src), str(dst))
        model = onnx.load(str(dst))
    half = float16.convert_float_to_float16(
        model, keep_io_types=keep_io_types, node_block_list=casts or None, disable_shape_infer=src_files_large
    )
    dst = Path(dst)
    external = src_files_large
    onnx.save_model(half, str(dst), save_as_external_data=external, location=f"{dst.name}.data")
    onnx.checker.check_model(str(dst))
    return dst


def emulate_fp16_storage(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of fp32 ``model`` whose weights and float intermediates are rounded through fp16."""
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            rounded = numpy_helper.to_array(init).astype(np.float16).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(rounded, init.name))
    float_values = {
        v.name for v in [*graph.value_info, *graph.input] if v.type.tensor_type.elem_type == TensorProto.FLOAT
    }
    outputs = {o.name for o in graph.output}
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for i, name in enumerate(node.output):
            if name not in float_values or name in outputs:
                continue
            raw, half = f"{name}__fp32", f"{name}__fp16"
            node.output[i] = raw
            nodes.append(helper.make_node("Cast", [raw], [half], to=TensorProto.FLOAT16, name=f"{raw}__to16"))
            nodes.append(helper.make_node("Cast", [half], [name], to=TensorProto.FLOAT, name=f"{half}__to32"))
    del graph.node[:]
    graph.node.extend(nodes)
    return model


@dataclass(frozen=True)
class Fp16Check:
    """Outcome of the fp16-storage emulation on fixed inputs, compared with the fp32 file."""

    safe: bool
    nonfinite_fraction: float
    max_abs_output: float
    max_abs_diff: float
    rel_diff: float
    psnr_db: float
    reason: str

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


def check_fp16_overflow(
    fp32_path: str | Path, feeds: dict[str, np.ndarray], reference: np.ndarray, rel_tol: float = 5e-2
) -> Fp16Check:
    """Run the fp16-storage emulation of ``fp32_path`` on ``feeds`` and judge it against ``reference``.

    Unsafe when any output is inf/NaN or above the fp16 range, or when the error relative to the
    reference's peak exceeds ``rel_tol``.
    """
    import onnxruntime as ort

    emulated = emulate_fp16_storage(onnx.load(str(fp32_path)))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the Cast pairs
    session = ort.InferenceSession(emulated.SerializeToString(), options, providers=["CPUExecutionProvider"])
    out = session.run(None, feeds)[0].astype(np.float32)
    out16 = out.astype(np.float16).astype(np.float32)  # the output is stored in fp16 too
    finite = np.isfinite(out16)
    nonfinite = float(1.0 - finite.mean())
    peak = float(np.abs(out[np.isfinite(out)]).max()) if finite.any() else math.inf
    ref_peak = float(np.abs(reference).max()) or 1.0
    if nonfinite:
        diff = math.inf
    else:
        diff = float(np.abs(out16 - reference).max())
    rel = diff / ref_peak
    mse = float(np.mean((out16 - reference) ** 2)) if not nonfinite else math.inf
    psnr = 10 * math.log10((2 * ref_peak) ** 2 / mse) if 0 < mse < math.inf else (math.inf if mse == 0 else -math.inf)
    if nonfinite:
        reason = f"{nonfinite:.1%} of the output overflows fp16 (inf/NaN)"
    elif rel > rel_tol:
        reason = f"fp16 error {rel:.3g} of the output peak exceeds {rel_tol:g}"
    else:
        reason = ""
    return Fp16Check(
        safe=not reason, nonfinite_fraction=nonfinite, max_abs_output=peak, max_abs_diff=diff,
        rel_diff=rel, psnr_db=psnr, reason=reason,
    )
