"""Training on HF Accelerate: latent SR denoisers and autoencoders from one YAML/JSON config.

``from zoo.train import load_config, train``; ``train(load_config("configs/demo-denoiser.yaml"))``
returns the folder of the saved pipeline (or autoencoder). See docs/training.md.
"""

from zoo.train.config import ConfigError, TrainConfig, load_config
from zoo.train.loop import train

__all__ = ["ConfigError", "TrainConfig", "load_config", "train"]
