"""zoo: latent-diffusion super-resolution of medical images with pluggable autoencoders,
denoisers, samplers and runtime backends.

Importing ``zoo`` is cheap: names are loaded on first use (PEP 562), so ``import zoo`` and
``zoo list`` never import torch.
"""

from __future__ import annotations

from zoo.utils.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "AutoencoderCard": "zoo.cards",
    "BackendCard": "zoo.cards",
    "DenoiserCard": "zoo.cards",
    "SamplerCard": "zoo.cards",
    "Card": "zoo.cards",
    "ComponentInfo": "zoo.registry",
    "list_components": "zoo.registry",
    "get_card": "zoo.registry",
    "register": "zoo.registry",
    "build_autoencoder": "zoo.factory",
    "build_denoiser": "zoo.factory",
    "build_sampler": "zoo.factory",
    "build_backend": "zoo.factory",
    "default_denoiser": "zoo.factory",
    "Autoencoder": "zoo.autoencoders.base",
    "SRPipeline": "zoo.pipeline.sr_pipeline",
    "PipelineConfig": "zoo.pipeline.config",
    "build_pipeline": "zoo.pipeline.build",
    "load_pipeline": "zoo.pipeline.build",
    "default_pipeline": "zoo.pipeline.build",
    "ZooError": "zoo.errors",
    "MissingWeightsError": "zoo.errors",
}

__all__ = ["__version__", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
