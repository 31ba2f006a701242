"""Convert official autoencoder checkpoints to diffusers ``AutoencoderKL`` key names.

Handles the CompVis/LDM first-stage layout (``encoder.down.0.block.0...``; MedVAE, kl-f4, the
original SD VAE), MedVAE's LoRA side branches (merged exactly: ``W += up @ down``), the MedVAE S2
head and LDM ``loss.*`` (dropped), wrapper prefixes, and diffusers' own layout (including the
deprecated ``query/key/value/proj_attn`` attention names). See shared reference ``vae.md``.
"""

from __future__ import annotations

import re

import torch

__all__ = [
    "DROPPED_PREFIXES",
    "convert_to_diffusers",
    "infer_kl_config",
    "is_ldm_layout",
    "ldm_to_diffusers",
    "merge_lora",
    "strip_wrappers",
]

DROPPED_PREFIXES = ("loss.", "channel_ds.", "channel_proj.")
_WRAPPERS = ("first_stage_model.", "module.", "vae.", "model.")
_DEPRECATED_ATTN = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}
_LDM_ATTN = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def strip_wrappers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the autoencoder part of a wrapped checkpoint.

    A full LDM/SD checkpoint keeps only ``first_stage_model.*``; a prefix shared by every key
    (``module.``, ``vae.``, ``model.``) is removed.
    """
    if any(k.startswith("first_stage_model.") for k in sd):
        return {k[len("first_stage_model."):]: v for k, v in sd.items() if k.startswith("first_stage_model.")}
    for prefix in _WRAPPERS:
        if sd and all(k.startswith(prefix) for k in sd):
            return strip_wrappers({k[len(prefix):]: v for k, v in sd.items()})
    return dict(sd)


def merge_lora(sd: dict[str, torch.Tensor], scale: float = 1.0) -> dict[str, torch.Tensor]:
    """Fold MedVAE LoRA branches into their convolutions: ``W = conv.W + scale * up @ down``.

    For every prefix ``P`` with ``P.lora_up.weight``: ``P.conv.{weight,bias}`` and the two LoRA
    weights become ``P.{weight,bias}``. Exact because ``lora_up`` is 1x1 and ``lora_down`` shares
    the base kernel. The merge is computed in float64 and kept in float64 so that a float64 model
    gets it unrounded (``load_state_dict`` casts to the model's dtype).
    """
    prefixes = [k[: -len(".lora_up.weight")] for k in sd if k.endswith(".lora_up.weight")]
    out = dict(sd)
    for p in prefixes:
        needed = [f"{p}.conv.weight", f"{p}.lora_down.weight"]
        missing = [k for k in needed if k not in sd]
        if missing:
            raise KeyError(f"LoRA branch {p!r} is incomplete: missing {', '.join(missing)}")
        base, up, down = sd[f"{p}.conv.weight"], sd[f"{p}.lora_up.weight"], sd[f"{p}.lora_down.weight"]
        if up.shape[2:] != (1, 1) or down.shape[1:] != base.shape[1:] or up.shape[0] != base.shape[0]:
            raise ValueError(
                f"LoRA branch {p!r}: shapes up {tuple(up.shape)}, down {tuple(down.shape)} do not fit "
                f"conv {tuple(base.shape)}"
            )
        delta = up.double().flatten(1) @ down.double().flatten(1)
        out[f"{p}.weight"] = base.double() + scale * delta.view(base.shape)
        for k in needed + [f"{p}.lora_up.weight"]:
            del out[k]
        if f"{p}.conv.bias" in out:
            out[f"{p}.bias"] = out.pop(f"{p}.conv.bias")
    return out


def is_ldm_layout(sd: dict[str, torch.Tensor]) -> bool:
    """True for CompVis/LDM key names (``encoder.down.N``), False for diffusers (``encoder.down_blocks.N``)."""
    return any(k.startswith(("encoder.down.", "encoder.mid.", "decoder.up.")) for k in sd)


def _ldm_key(key: str, levels: int) -> str:
    m = re.match(r"(encoder|decoder)\.(.*)$", key)
    if m is None:
        return key  # quant_conv, post_quant_conv and unknown keys pass through (strict load catches them)
    part, rest = m.groups()
    rest = rest.replace("norm_out.", "conv_norm_out.", 1) if rest.startswith("norm_out.") else rest
    if mm := re.match(r"down\.(\d+)\.block\.(\d+)\.(.*)$", rest):
        i, j, tail = mm.groups()
        rest = f"down_blocks.{i}.resnets.{j}.{tail}"
    elif mm := re.match(r"down\.(\d+)\.downsample\.(.*)$", rest):
        rest = f"down_blocks.{mm.group(1)}.downsamplers.0.{mm.group(2)}"
    elif mm := re.match(r"up\.(\d+)\.block\.(\d+)\.(.*)$", rest):
        b, j, tail = mm.groups()
        rest = f"up_blocks.{levels - 1 - int(b)}.resnets.{j}.{tail}"
    elif mm := re.match(r"up\.(\d+)\.upsample\.(.*)$", rest):
        rest = f"up_blocks.{levels - 1 - int(mm.group(1))}.upsamplers.0.{mm.group(2)}"
    elif mm := re.match(r"mid\.block_([12])\.(.*)$", rest):
        rest = f"mid_block.resnets.{int(mm.group(1)) - 1}.{mm.group(2)}"
    elif mm := re.match(r"mid\.attn_1\.(norm|q|k|v|proj_out)\.(.*)$", rest):
        rest = f"mid_block.attentions.0.{_LDM_ATTN[mm.group(1)]}.{mm.group(2)}"
    rest = rest.replace(".nin_shortcut.", ".conv_shortcut.")
    return f"{part}.{rest}"


def _squeeze_attention(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """LDM/old-diffusers 1x1-conv attention projections ``[C, C, 1, 1]`` become Linear ``[C, C]``."""
    pattern = re.compile(r".*\.attentions\.\d+\.(to_q|to_k|to_v|to_out\.0)\.weight$")
    return {k: v[:, :, 0, 0] if pattern.match(k) and v.ndim == 4 else v for k, v in sd.items()}


def ldm_to_diffusers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename LDM first-stage keys to diffusers ``AutoencoderKL`` keys (decoder levels reversed)."""
    ups = {int(m.group(1)) for k in sd if (m := re.match(r"decoder\.up\.(\d+)\.", k))}
    levels = max(ups) + 1 if ups else 0
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        new = _ldm_key(key, levels)
        if new in out:
            raise KeyError(f"two checkpoint keys map to {new!r} (one is {key!r})")
        out[new] = value
    return _squeeze_attention(out)


def _rename_deprecated_attention(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        m = re.match(r"(.*\.attentions\.\d+\.)(query|key|value|proj_attn)\.(weight|bias)$", key)
        out[f"{m.group(1)}{_DEPRECATED_ATTN[m.group(2)]}.{m.group(3)}" if m else key] = value
    return _squeeze_attention(out)


def convert_to_diffusers(sd: dict[str, torch.Tensor], drop: tuple[str, ...] = DROPPED_PREFIXES,
                         lora: bool = True) -> dict[str, torch.Tensor]:
    """Any supported first-stage state dict -> diffusers ``AutoencoderKL`` key names.

    ``lora=False`` skips the LoRA merge (the branches are then reported as unexpected keys on a
    strict load); it exists to demonstrate that the merge is required.
    """
    sd = strip_wrappers(sd)
    sd = {k: v for k, v in sd.items() if not k.startswith(drop)}
    if lora:
        sd = merge_lora(sd)
    return ldm_to_diffusers(sd) if is_ldm_layout(sd) else _rename_deprecated_attention(sd)


def infer_kl_config(sd: dict[str, torch.Tensor]) -> dict:
    """diffusers ``AutoencoderKL`` config of a diffusers-keyed state dict, read from tensor shapes.

    Assumes the LDM family shared by every built-in model (GroupNorm 32, SiLU, attention only in the
    mid block). Raises ``ValueError`` if the keys do not describe such an autoencoder.
    """
    try:
        in_ch = sd["encoder.conv_in.weight"].shape[1]
        out_ch = sd["decoder.conv_out.weight"].shape[0]
        latent = sd["decoder.conv_in.weight"].shape[1]
    except KeyError as err:
        raise ValueError(f"not a KL autoencoder state dict: no {err.args[0]!r}") from None
    blocks = sorted({int(m.group(1)) for k in sd if (m := re.match(r"encoder\.down_blocks\.(\d+)\.", k))})
    if not blocks or blocks != list(range(len(blocks))):
        raise ValueError("not a KL autoencoder state dict: no encoder.down_blocks.N")
    widths = [sd[f"encoder.down_blocks.{i}.resnets.0.conv1.weight"].shape[0] for i in blocks]
    per_block = len({int(m.group(1)) for k in sd if (m := re.match(r"encoder\.down_blocks\.0\.resnets\.(\d+)\.", k))})
    if any(k.startswith("encoder.down_blocks.") and ".attentions." in k for k in sd):
        raise ValueError("attention inside down blocks is not supported by shape inference; pass a card name")
    from zoo.autoencoders.cards import kl_config

    cfg = kl_config(int(in_ch), int(latent), [int(w) for w in widths])
    cfg.update(
        out_channels=int(out_ch),
        layers_per_block=per_block,
        use_quant_conv="quant_conv.weight" in sd,
        use_post_quant_conv="post_quant_conv.weight" in sd,
        mid_block_add_attention=any(k.startswith("encoder.mid_block.attentions.") for k in sd),
    )
    return cfg
