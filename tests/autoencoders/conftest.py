"""Fixtures for autoencoder tests: official reference models and checkpoints in the official layouts.

The official code is MedVAE's own model modules (``pip install --no-deps medvae``) and the CompVis
LDM ``AutoencoderKL`` shipped as ``ldm`` by ``stable-diffusion-sdkit`` (needs ``pytorch-lightning``
and ``einops``). Checkpoints are written by that code with random weights; tests that need them
skip when the packages are absent.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch


@dataclass(frozen=True)
class OfficialSpec:
    """How the official model of a built-in card is built and saved."""

    family: str  # "medvae" or "ldm"
    in_channels: int
    z_channels: int
    ch_mult: tuple[int, ...]
    lora: bool = False
    s2_head: bool = False
    layout: str = "ckpt"  # "ckpt" (torch pickle), "safetensors" (single file), "diffusers" (folder)


OFFICIAL: dict[str, OfficialSpec] = {
    "medvae-4-1": OfficialSpec("medvae", 1, 1, (1, 2, 4), s2_head=True),
    "medvae-4-3": OfficialSpec("medvae", 3, 3, (1, 2, 4), lora=True, s2_head=True),
    "medvae-4-4": OfficialSpec("medvae", 1, 4, (1, 2, 4)),
    "medvae-8-1": OfficialSpec("medvae", 1, 1, (1, 2, 4, 4), s2_head=True),
    "medvae-8-4": OfficialSpec("medvae", 3, 4, (1, 2, 4, 4), lora=True, s2_head=True),
    "kl-f4": OfficialSpec("ldm", 3, 3, (1, 2, 4)),
    "sd-vae": OfficialSpec("ldm", 3, 4, (1, 2, 4, 4), layout="safetensors"),
}
SMALL_CH = 32  # GroupNorm(32) needs >= 32 channels; full size is 128


def ddconfig(spec: OfficialSpec, ch: int) -> dict:
    """LDM ``ddconfig`` of the official YAMLs (see shared reference vae.md)."""
    return dict(double_z=True, z_channels=spec.z_channels, resolution=256, in_channels=spec.in_channels,
                out_ch=spec.in_channels, ch=ch, ch_mult=list(spec.ch_mult), num_res_blocks=2,
                attn_resolutions=[], dropout=0.0)


def zoo_overrides(spec: OfficialSpec, ch: int) -> dict:
    """Card overrides giving zoo's model the same width as an official model with base width ``ch``."""
    return {} if ch == 128 else {"block_out_channels": [ch * m for m in spec.ch_mult]}


def _load_medvae_modules() -> types.SimpleNamespace:
    """Import MedVAE's model modules without running ``medvae/__init__`` (which pulls monai & co.)."""
    pytest.importorskip("einops")
    if "medvae.models.autoencoder_kl" in sys.modules:
        return types.SimpleNamespace(AutoencoderKL=sys.modules["medvae.models.autoencoder_kl"].AutoencoderKL,
                                     inject=sys.modules["medvae.utils.lora"].inject_trainable_lora_extended)
    spec = importlib.util.find_spec("medvae")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("medvae not installed (pip install --no-deps medvae==0.1.7)")
    root = Path(list(spec.submodule_search_locations)[0])
    for name, sub in (("medvae", ""), ("medvae.models", "models"), ("medvae.utils", "utils"),
                      ("medvae.utils.vae", "utils/vae")):
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(root / sub)]
            sys.modules[name] = pkg
    ae = importlib.import_module("medvae.models.autoencoder_kl")
    lora = importlib.import_module("medvae.utils.lora")
    return types.SimpleNamespace(AutoencoderKL=ae.AutoencoderKL, inject=lora.inject_trainable_lora_extended)


def _load_ldm() -> type:
    pytest.importorskip("einops")
    pytest.importorskip("pytorch_lightning")
    mod = pytest.importorskip("ldm.models.autoencoder")
    return mod.AutoencoderKL


def _randomise_norms(model: torch.nn.Module, gen: torch.Generator) -> None:
    """GroupNorm affine parameters are 1/0 at init; make them distinct so a wrong key map shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name.split(".")[-2]:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=gen))


def build_official(name: str, ch: int, seed: int = 0) -> torch.nn.Module:
    """The official model of ``name`` at base width ``ch`` with random weights (LoRA non-zero), in eval mode."""
    spec = OFFICIAL[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    if spec.family == "medvae":
        mv = _load_medvae_modules()
        model = mv.AutoencoderKL(ddconfig=ddconfig(spec, ch), embed_dim=spec.z_channels)
        if spec.lora:
            mv.inject(model, {"ResnetBlock", "AttnBlock"}, r=4)
            with torch.no_grad():  # lora_up is zero at init: give the branches a visible effect
                for pname, p in model.named_parameters():
                    if pname.endswith("lora_up.weight"):
                        p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    else:
        ldm_kl = _load_ldm()
        model = ldm_kl(ddconfig=ddconfig(spec, ch), lossconfig={"target": "torch.nn.Identity"},
                       embed_dim=spec.z_channels)
    _randomise_norms(model, gen)
    return model.eval()


def official_state(name: str, model: torch.nn.Module) -> dict:
    """State dict as the official file stores it (4_4 without the S2 head; kl-f4 with loss.*)."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if name == "medvae-4-4":
        sd = {k: v for k, v in sd.items() if not k.startswith(("channel_ds.", "channel_proj."))}
    if name == "kl-f4":
        gen = torch.Generator().manual_seed(1)
        sd["loss.logvar"] = torch.zeros(())
        sd["loss.perceptual_loss.lin0.model.1.weight"] = torch.randn(1, 64, 1, 1, generator=gen)
        sd["loss.discriminator.main.0.weight"] = torch.randn(64, 3, 4, 4, generator=gen)
        sd["loss.discriminator.main.0.bias"] = torch.randn(64, generator=gen)
    return sd


def write_official(name: str, model: torch.nn.Module, folder: Path) -> Path:
    """Write ``model``'s weights in the official file layout of ``name``; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    sd = official_state(name, model)
    if OFFICIAL[name].layout == "safetensors":  # sd-vae-ft-ema-original's single-file layout
        from safetensors.torch import save_file

        path = folder / "vae-ft-ema-560000-ema-pruned.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
        return path
    path = folder / ("model.ckpt" if name == "kl-f4" else f"{name}.ckpt")
    if name == "kl-f4":  # a Lightning checkpoint
        torch.save({"epoch": 3, "global_step": 176991, "pytorch-lightning_version": "1.4.2",
                    "state_dict": sd, "optimizer_states": [], "lr_schedulers": []}, path)
    else:  # MedVAE: {"state_dict": OrderedDict}
        torch.save({"state_dict": sd}, path)
    return path


class OfficialCheckpoints:
    """Session cache of (official model, checkpoint path) per (name, width): each is built once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[str, int], tuple[torch.nn.Module, Path]] = {}

    def get(self, name: str, ch: int = SMALL_CH) -> tuple[torch.nn.Module, Path]:
        key = (name, ch)
        if key not in self._cache:
            model = build_official(name, ch)
            self._cache[key] = (model, write_official(name, model, self.root / f"{name}-{ch}"))
        model, path = self._cache[key]
        return copy.deepcopy(model), path

    def drop(self, name: str, ch: int) -> None:
        """Forget a (large) entry to free memory."""
        self._cache.pop((name, ch), None)


@pytest.fixture(scope="session")
def official_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> OfficialCheckpoints:
    return OfficialCheckpoints(tmp_path_factory.mktemp("official"))


@pytest.fixture()
def tiny_config() -> dict:
    """A tiny LDM-family AutoencoderKL config (fast unit tests)."""
    from zoo.autoencoders.cards import kl_config

    return kl_config(1, 2, [32, 32])
