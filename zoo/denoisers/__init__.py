"""Latent SR denoisers (UNet with concat conditioning, transformer on timm layers). Light to import."""
