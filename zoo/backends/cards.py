"""Built-in runtime backend cards (pure data)."""

from __future__ import annotations

from zoo.cards import BackendCard

TORCH = BackendCard(
    name="torch", factory="zoo.backends.torch:TorchBackend", devices=("cpu", "cuda"),
    description="PyTorch eager (fp32; bf16 optional).", license="BSD-3-Clause",
)
TORCH_COMPILE = BackendCard(
    name="torch-compile", factory="zoo.backends.torch:CompiledTorchBackend", devices=("cuda",),
    description="torch.compile with fp16 denoiser and CUDA graphs (GPU only).", license="BSD-3-Clause",
)
AUTO = BackendCard(
    name="auto", factory="zoo.backends.auto:AutoBackend", devices=("cpu", "cuda"),
    description="The default: the fastest installed runtime validated against torch on this machine, else torch.",
    license="BSD-3-Clause",
)
