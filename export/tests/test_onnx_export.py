"""ONNX export of every registered VAE (small configs), dynamic batch, and the static-dims guard."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from export_helpers import small_vae_config
from zoo_export.onnx_export import ExportError, check_dynamic_dims, export_onnx
from zoo_export.stages import STAGE_IO, EncoderStage, stage_modules
from zoo_export.validate import compare_stage

import zoo
from zoo.ops.geometry import Geometry

BUILTIN_VAES = sorted(i.name for i in zoo.list_components("autoencoder") if i.ok and i.distribution == "zoo")


def _export_vae_stages(name: str, tmp_path, overrides: dict) -> None:
    torch.manual_seed(0)
    vae = zoo.build_autoencoder(name, pretrained=False, **overrides)
    f = vae.downsample_factor
    geometry = Geometry(vae.in_channels, vae.latent_channels, f, hr_size=4 * f, scale=2)
    modules = {k: v for k, v in stage_modules(vae, torch.nn.Identity()).items() if k != "denoiser"}
    for stage, module in modules.items():
        example = geometry.stage_inputs(stage, 2, torch.Generator().manual_seed(0))
        multiple = f if stage == "encoder" else 1
        file = export_onnx(module, example, tmp_path / stage / "model.onnx", *STAGE_IO[stage],
                           dynamic_hw=True, hw_multiple=multiple)
        assert file.inputs[0]["shape"][0] == "batch"
        session = ort.InferenceSession(str(file.path), providers=["CPUExecutionProvider"])
        parity = compare_stage(stage, module, session, geometry, "fp32")
        assert parity["passed"], json.dumps(parity)
        assert set(parity["batches"]) == {"1", "3"}


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTIN_VAES)
def test_builtin_vae_exports_with_parity(name: str, tmp_path) -> None:
    _export_vae_stages(name, tmp_path, small_vae_config(name))


@pytest.mark.slow
def test_plugin_vae_exports_with_parity(tmp_path) -> None:
    if not any(i.name == "example-vae" and i.ok for i in zoo.list_components("autoencoder")):
        pytest.skip("plugin zoo-example-vae is not installed")
    _export_vae_stages("example-vae", tmp_path, {"block_out_channels": [8, 16, 16], "norm_num_groups": 4})


def test_all_builtin_vaes_are_listed() -> None:
    assert {"sd-vae", "kl-f4", "medvae-4-1", "medvae-4-3", "medvae-4-4", "medvae-8-1", "medvae-8-4"} <= set(
        BUILTIN_VAES
    )


@pytest.mark.slow
def test_exported_files_run_at_batch_1_and_3(exported) -> None:
    _, root = exported
    manifest = json.loads((root / "manifest.json").read_text())
    g = manifest["geometry"]
    shapes = {
        "encoder": {"x": (g["in_channels"], g["encode_size"], g["encode_size"])},
        "decoder": {"z": (g["latent_channels"], g["latent_size"], g["latent_size"])},
        "denoiser": {"x_t": (g["latent_channels"], g["latent_size"], g["latent_size"]), "t": (),
                     "cond": (g["latent_channels"], g["latent_size"], g["latent_size"])},
    }
    for stage, entry in manifest["stages"].items():
        model = onnx.load(str(root / entry["onnx"]))
        for value in [*model.graph.input, *model.graph.output]:
            assert value.type.tensor_type.shape.dim[0].dim_param, f"{stage}:{value.name} has a static batch"
        session = ort.InferenceSession(str(root / entry["onnx"]), providers=["CPUExecutionProvider"])
        for batch in (1, 3):
            feeds = {
                name: (np.arange(batch, dtype=np.int64) * 100 if name == "t"
                       else np.random.default_rng(0).standard_normal((batch, *shape)).astype(np.float32))
                for name, shape in shapes[stage].items()
            }
            assert session.run(None, feeds)[0].shape[0] == batch


def test_static_batch_is_rejected(tmp_path) -> None:
    """A file whose batch was specialised (the dynamo batch-1 trap) must not pass as dynamic."""
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])
    z = onnx.helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [1, 3, 8, 8])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["z"])], "static", [x], [z])
    onnx.save(onnx.helper.make_model(graph), tmp_path / "static.onnx")
    with pytest.raises(ExportError, match="should be dynamic"):
        check_dynamic_dims(tmp_path / "static.onnx", ["x"], dynamic_hw=False)


def test_dynamo_refuses_batch_1_example(tmp_path) -> None:
    vae = zoo.build_autoencoder("medvae-4-1", pretrained=False, **small_vae_config("medvae-4-1"))
    with pytest.raises(ExportError, match="batch >= 2"):
        export_onnx(EncoderStage(vae), (torch.zeros(1, 1, 8, 8),), tmp_path / "e.onnx", ["x"], ["z"])
