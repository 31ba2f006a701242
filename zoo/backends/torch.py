"""PyTorch backends: eager (``torch``) and compiled fp16 + CUDA graphs (``torch-compile``)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch

from zoo.backends.base import Runtime

if TYPE_CHECKING:
    from zoo.pipeline.sr_pipeline import SRPipeline

__all__ = ["CompiledTorchBackend", "TorchBackend", "TorchRuntime"]


class TorchRuntime:
    """Runs the pipeline's own modules eagerly, inputs cast to each module's parameter dtype."""

    def __init__(self, vae: torch.nn.Module, denoiser: torch.nn.Module) -> None:
        self.vae = vae
        self.denoiser = denoiser

    @staticmethod
    def _dtype(module: torch.nn.Module) -> torch.dtype:
        return next(module.parameters()).dtype

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(x.to(self._dtype(self.vae)))

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        dtype = self._dtype(self.denoiser)
        return self.denoiser(x_t.to(dtype), t, cond.to(dtype))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z.to(self._dtype(self.vae)))


class TorchBackend:
    """PyTorch eager: the pipeline's modules as they are (device and dtype chosen by the pipeline)."""

    name = "torch"

    def runtime(self, pipeline: SRPipeline) -> Runtime:
        return TorchRuntime(pipeline.vae, pipeline.denoiser)


class _CompiledRuntime(TorchRuntime):
    """fp16 denoiser compiled with CUDA graphs; outputs are copied out of the graph's static buffers."""

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        torch.compiler.cudagraph_mark_step_begin()
        return super().denoise(x_t, t, cond).float()


class CompiledTorchBackend:
    """GPU only: an fp16 copy of the denoiser under ``torch.compile(mode="reduce-overhead")`` (CUDA graphs).

    The autoencoder runs in fp16 only if its card says ``fp16_safe`` (LDM-family VAEs overflow in
    fp16), else fp32. The pipeline's own modules are left untouched.
    """

    name = "torch-compile"

    def __init__(self, mode: str = "reduce-overhead", fullgraph: bool = False) -> None:
        self.mode = mode
        self.fullgraph = fullgraph

    def runtime(self, pipeline: SRPipeline) -> Runtime:
        device = torch.device(pipeline.device)
        if device.type != "cuda" or not torch.cuda.is_available():
            raise RuntimeError(
                f"backend 'torch-compile' needs a CUDA device (fp16 + CUDA graphs); this pipeline is on "
                f"{device} (CUDA available: {torch.cuda.is_available()}). Use backend='torch' on CPU."
            )
        denoiser = copy.deepcopy(pipeline.denoiser).to(device=device, dtype=torch.float16).eval()
        vae = pipeline.vae
        card = getattr(vae, "card", None)
        if card is not None and card.fp16_safe:
            vae = copy.deepcopy(vae).to(device=device, dtype=torch.float16).eval()
        compiled = torch.compile(denoiser, mode=self.mode, fullgraph=self.fullgraph)
        return _CompiledRuntime(vae, compiled)
