"""zoo.evaluate: metrics, id-strict pairing, paired statistics, reports and VAE screening.

Modules (import what you need; nothing heavy is imported here):

* :mod:`~zoo.evaluate.metrics` PSNR, SSIM, MS-SSIM, ROI metrics, LPIPS
* :mod:`~zoo.evaluate.wavelets`, :mod:`~zoo.evaluate.spectrum`, :mod:`~zoo.evaluate.hallucination`
* :mod:`~zoo.evaluate.pairing` ids from manifests or stems; mismatches are errors
* :mod:`~zoo.evaluate.evaluation` score a prediction folder against a reference folder
* :mod:`~zoo.evaluate.stats`, :mod:`~zoo.evaluate.compare` paired statistics between runs
* :mod:`~zoo.evaluate.report`, :mod:`~zoo.evaluate.figures` JSON/markdown/CSV and PNG figures
* :mod:`~zoo.evaluate.reconstruct`, :mod:`~zoo.evaluate.screen` autoencoder round trips and ranking
"""
