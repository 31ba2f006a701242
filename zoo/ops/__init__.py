"""The tensor maths of one SR call (shapes, latents, intensities, resampling, consistency, self-ensemble,
tiling): plain functions on tensors that import nothing of zoo but :mod:`zoo.errors`."""
