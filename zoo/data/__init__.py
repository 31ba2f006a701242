"""zoo.data: medical image IO, LR synthesis, prepared datasets, latent caches, bundled samples.

Names load on first use, so ``import zoo.data`` stays light (torch only for the datasets/encoder).
"""

from __future__ import annotations

from zoo.data.errors import DataError
from zoo.utils.lazy import lazy_exports

_LAZY = {
    "MedicalImage": "zoo.data.image",
    "read_image": "zoo.data.readers",
    "write_like": "zoo.data.writers",
    "write_png": "zoo.data.writers",
    "write_tiff": "zoo.data.writers",
    "write_nifti": "zoo.data.writers",
    "write_dicom": "zoo.data.writers",
    "write_npy": "zoo.data.writers",
    "detect_format": "zoo.data.formats",
    "DEGRADATIONS": "zoo.data.degradations",
    "register_degradation": "zoo.data.degradations",
    "get_degradation": "zoo.data.degradations",
    "pil_resize": "zoo.data.degradations",
    "select_slices": "zoo.data.slices",
    "brats_slices": "zoo.data.slices",
    "split_subjects": "zoo.data.splits",
    "minmax01": "zoo.data.normalize",
    "Record": "zoo.data.manifest",
    "read_manifest": "zoo.data.manifest",
    "write_manifest": "zoo.data.manifest",
    "PrepareConfig": "zoo.data.prepare",
    "prepare": "zoo.data.prepare",
    "load_unit": "zoo.data.pngio",
    "encode_dataset": "zoo.data.encode",
    "load_latents": "zoo.data.encode",
    "read_cache": "zoo.data.encode",
    "upsample_lr": "zoo.ops.resample",
    "PairedImageDataset": "zoo.data.dataset",
    "LatentPairDataset": "zoo.data.dataset",
    "sample_dir": "zoo.data.samples",
    "sample_paths": "zoo.data.samples",
    "prepared_samples": "zoo.data.samples",
}

__all__ = ["DataError", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
