"""Fixtures of the CLI tests: a tiny saved pipeline (random weights) and inputs in every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cli_checks import save_tiny_pipeline


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved pipeline folder: narrowed zoo-demo-f4 VAE + tiny UNet, random weights, 1-step DDIM."""
    return save_tiny_pipeline(tmp_path_factory.mktemp("pipe") / "pipeline")


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small LR file per supported format (written with zoo's own writers)."""
    import nibabel as nib
    from PIL import Image

    from zoo.data.writers import write_npy, write_png, write_tiff

    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    gray = (rng.random((12, 16)) * 255).astype(np.uint8)
    files = {
        "png8": root / "gray8.png",
        "png16": root / "gray16.png",
        "jpeg": root / "photo.jpg",
        "tiff": root / "float.tif",
        "npy": root / "array.npy",
        "nifti": root / "vol.nii.gz",
    }
    write_png(files["png8"], gray, bits=8)
    write_png(files["png16"], (gray.astype(np.uint16) * 257), bits=16)
    Image.fromarray(gray).save(files["jpeg"], quality=95)
    write_tiff(files["tiff"], gray.astype(np.float32) / 255.0)
    write_npy(files["npy"], gray.astype(np.float64) * 3.5 - 100.0)
    affine = np.diag([0.8, 0.9, 3.0, 1.0])
    affine[:3, 3] = (10.0, -20.0, 5.0)
    nib.save(nib.Nifti1Image((rng.random((12, 16, 3)) * 1000).astype(np.int16), affine), files["nifti"])
    files["dicom"] = Path(__file__).resolve().parents[2] / "zoo" / "assets" / "samples" / "original" / "MR_small.dcm"
    return files
