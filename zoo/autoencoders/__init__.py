"""Autoencoders: the :class:`zoo.Autoencoder` protocol, the diffusers ``AutoencoderKL`` adapter,
built-in cards and official checkpoint converters. Importing this package does not import torch."""
