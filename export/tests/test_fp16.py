"""fp16: the CPU overflow check (fp16-storage emulation) catches a deliberately overflowing decoder."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from export_helpers import small_pipeline, small_vae_config
from zoo_export.fp16 import FP16_MAX, check_fp16_overflow, convert_to_fp16, emulate_fp16_storage
from zoo_export.onnx_export import export_onnx
from zoo_export.stages import STAGE_IO, DecoderStage

import zoo

OVERFLOW_GAIN = 3e5  # reference export.md §1.5 uses 3e4 at 128 channels; these convs have ~16x smaller fan-in


def _overflow(vae) -> torch.nn.Module:
    """Scale one decoder conv weight so its activations leave the fp16 range; fp32 stays finite
    (the following GroupNorm renormalises). Returns the conv."""
    conv = vae.vae.decoder.up_blocks[-1].resnets[0].conv1
    with torch.no_grad():
        conv.weight.mul_(OVERFLOW_GAIN)
    return conv


@pytest.fixture(scope="module")
def decoders(tmp_path_factory):
    """(clean, overflowing) fp32 decoder ONNX files with their modules and a fixed latent."""
    root = tmp_path_factory.mktemp("fp16")
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    out = {}
    for kind in ("clean", "overflow"):
        torch.manual_seed(0)
        vae = zoo.build_autoencoder("sd-vae", pretrained=False, **small_vae_config("sd-vae"))
        conv = _overflow(vae) if kind == "overflow" else None
        module = DecoderStage(vae)
        # the TorchScript exporter is the quicker one here, and its Cast nodes exercise the fp16 block list
        file = export_onnx(module, (torch.randn(1, 4, 8, 8),), root / kind / "model.onnx", *STAGE_IO["decoder"],
                           dynamo=False)
        peak: list[float] = []
        record = lambda m, i, o, peak=peak: peak.append(float(o.abs().max()))  # noqa: E731
        hook = conv.register_forward_hook(record) if conv else None
        with torch.no_grad():
            out[kind] = (file.path, module(z).numpy())
        if hook is not None:
            hook.remove()
            assert max(peak) > FP16_MAX, "the fixture must push an activation past the fp16 range"
    return out, z.numpy()


def test_overflowing_decoder_is_caught(decoders) -> None:
    files, z = decoders
    path, reference = files["overflow"]
    assert np.isfinite(reference).all()  # fp32 hides the problem
    check = check_fp16_overflow(path, {"z": z}, reference)
    assert not check.safe
    assert check.nonfinite_fraction > 0.5
    assert "overflows fp16" in check.reason


def test_clean_decoder_passes(decoders) -> None:
    files, z = decoders
    path, reference = files["clean"]
    check = check_fp16_overflow(path, {"z": z}, reference)
    assert check.safe, check.reason
    assert 0 < check.rel_diff < 5e-2  # fp16 rounding is visible, and small


def test_emulation_rounds_every_float_intermediate(decoders) -> None:
    files, _ = decoders
    model = onnx.load(str(files["clean"][0]))
    emulated = emulate_fp16_storage(model)
    casts = [n for n in emulated.graph.node if n.op_type == "Cast" and n.name.endswith("__to16")]
    assert len(casts) >= len(model.graph.node) // 2
    big = onnx.numpy_helper.to_array(emulated.graph.initializer[0])
    assert np.array_equal(big, big.astype(np.float16).astype(np.float32))


def test_fp16_file_keeps_fp32_io_and_matches(decoders, tmp_path) -> None:
    files, z = decoders
    path, reference = files["clean"]
    half = convert_to_fp16(path, tmp_path / "model_fp16.onnx", keep_io_types=True)
    session = ort.InferenceSession(str(half), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(float)"
    inits = onnx.load(str(half)).graph.initializer
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in inits)
    out = session.run(None, {"z": z})[0]
    assert np.abs(out - reference).max() / np.abs(reference).max() < 2e-2


@pytest.mark.slow
def test_fp16_export_falls_back_to_fp32_for_unsafe_vae(tmp_path) -> None:
    from zoo_export.exporter import ExportOptions, export_pipeline

    pipe = small_pipeline("sd-vae", size=64, scale=2)
    _overflow(pipe.vae)
    manifest = export_pipeline(pipe, tmp_path / "out", ExportOptions(size=64, fp16=True))
    stages = manifest["stages"]
    assert manifest["status"] == "ok", json.dumps(stages, indent=1)
    assert stages["decoder"]["precision"] == "fp32"
    assert "overflows fp16" in stages["decoder"]["fp16_fallback"]
    assert stages["encoder"]["precision"] == "fp16" and stages["denoiser"]["precision"] == "fp16"
    written = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert written["stages"]["decoder"]["fp16_fallback"] == stages["decoder"]["fp16_fallback"]
    assert (tmp_path / "out" / "decoder" / "model.onnx").is_file()
    assert not (tmp_path / "out" / "decoder" / "model_fp16.onnx").exists()
