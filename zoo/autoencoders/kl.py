"""diffusers ``AutoencoderKL`` behind zoo's :class:`~zoo.autoencoders.base.Autoencoder` protocol."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import torch

from zoo.autoencoders.base import Autoencoder
from zoo.cards import AutoencoderCard

if TYPE_CHECKING:  # diffusers is imported only where a KL autoencoder is built or met (it takes seconds)
    from diffusers import AutoencoderKL


def _kl_config_schema() -> Any:
    """Schema of an ``AutoencoderKL`` config: types and ranges of diffusers' arguments, known activations and
    block types."""
    from diffusers.models.activations import ACT2CLS

    from zoo.folders.schema import Bool, Int, ListOf, Number, Obj, Str

    size = Int(1, limit=8192)
    return Obj(optional={
        "in_channels": Int(1, limit=64), "out_channels": Int(1, limit=64), "latent_channels": Int(1, limit=1024),
        "down_block_types": ListOf(Str(("DownEncoderBlock2D",)), 1, 8),
        "up_block_types": ListOf(Str(("UpDecoderBlock2D",)), 1, 8),
        "block_out_channels": ListOf(size, 1, 8), "layers_per_block": Int(1, limit=16),
        "act_fn": Str(tuple(sorted(ACT2CLS))), "norm_num_groups": Int(1, limit=1024),
        "sample_size": Int(1, limit=16384), "scaling_factor": Number(positive=True, limit=1e6),
        "shift_factor": Number(limit=1e6, null=True), "latents_mean": ListOf(Number(), 1, null=True),
        "latents_std": ListOf(Number(positive=True), 1, null=True), "force_upcast": Bool(),
        "use_quant_conv": Bool(), "use_post_quant_conv": Bool(), "mid_block_add_attention": Bool(),
    })


def check_kl_config(config: dict[str, Any]) -> None:
    """Raise ``ValueError`` (one line naming the argument) unless ``config`` builds an ``AutoencoderKL``."""
    from zoo.folders.schema import validate

    public = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if not k.startswith("_")}
    validate(public, _kl_config_schema(), "AutoencoderKL config")  # diffusers' own "_" keys are its bookkeeping
    groups = config.get("norm_num_groups", 32)
    blocks = list(config.get("block_out_channels", (64,)))
    odd = [c for c in blocks if c % groups]
    if odd:
        raise ValueError(f"AutoencoderKL config: block_out_channels {blocks} must be multiples of "
                         f"norm_num_groups ({groups})")
    for key in ("down_block_types", "up_block_types"):
        if key in config and len(config[key]) != len(blocks):
            raise ValueError(f"AutoencoderKL config: {key} has {len(config[key])} entries, block_out_channels "
                             f"{len(blocks)}")


def build_autoencoder_kl(**config: Any) -> AutoencoderKL:
    """Factory of the built-in cards: a randomly initialised ``AutoencoderKL`` from its config (checked first:
    a bad value is one ``ValueError`` naming it).

    Overriding only ``block_out_channels`` with another length resizes uniform block-type lists.
    """
    blocks = config.get("block_out_channels")
    n = len(blocks) if isinstance(blocks, list | tuple) else 0
    for key in ("down_block_types", "up_block_types"):
        types = config.get(key)
        if n and isinstance(types, list | tuple) and types and len(types) != n and len(set(map(str, types))) == 1:
            config[key] = [types[0]] * n
    check_kl_config(config)
    from diffusers import AutoencoderKL

    return AutoencoderKL(**config)


class KLAutoencoder(Autoencoder):
    """Adapter around a diffusers ``AutoencoderKL`` (weights live in ``self.vae``)."""

    def __init__(self, vae: AutoencoderKL, card: AutoencoderCard | None = None) -> None:
        super().__init__(card)
        self.vae = vae
        cfg = vae.config
        self.in_channels = int(cfg.in_channels)
        self.latent_channels = int(cfg.latent_channels)
        self.downsample_factor = 2 ** (len(cfg.block_out_channels) - 1)

    def _run(self, fn, x: torch.Tensor) -> torch.Tensor:
        """Run ``fn`` in the VAE's own dtype with autocast off (VAEs overflow under fp16 autocast)."""
        dtype = self.vae.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            return fn(x.to(dtype))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist = self._run(lambda v: self.vae.encode(v).latent_dist, x)
        return dist.mean.to(x.dtype), dist.logvar.to(x.dtype)

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self._run(lambda v: self.vae.decode(v).sample, z).to(z.dtype)


def is_autoencoder_kl(model: Any) -> bool:
    """True if ``model`` is a diffusers ``AutoencoderKL`` (one exists only once diffusers is imported, so a
    process that never imported diffusers does not import it here)."""
    if "diffusers" not in sys.modules:
        return False
    from diffusers import AutoencoderKL

    return isinstance(model, AutoencoderKL)


def as_autoencoder(model: Any, card: AutoencoderCard | None = None) -> Autoencoder:
    """Wrap what a factory returned: a zoo ``Autoencoder`` passes through, an ``AutoencoderKL`` is adapted."""
    if isinstance(model, Autoencoder):
        if card is not None and model.card is None:
            model.card = card
        return model
    if is_autoencoder_kl(model):
        return KLAutoencoder(model, card)
    raise TypeError(
        f"autoencoder factory returned {type(model).__name__}; expected a zoo.Autoencoder or diffusers AutoencoderKL"
    )
