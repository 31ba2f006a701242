"""One intensity policy for every format: a held-out bundled image gives the same SR through ``zoo sr``
as 8-bit PNG, 16-bit PNG, TIFF, DICOM (12 bits stored in 16, rescale, MONOCHROME1) and scaled NIfTI."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.data.degradations import pil_resize
from zoo.data.manifest import filter_split, read_manifest
from zoo.data.pngio import load_unit
from zoo.data.readers import read_image
from zoo.data.samples import prepared_samples

SLOPE, INTERCEPT = 2.0, -1024.0  # DICOM/TIFF values: CT-like units of the 12-bit stored values
NII_SLOPE, NII_INTER = 0.5, 100.0


def held_out_pair() -> tuple[np.ndarray, np.ndarray]:
    """LR and HR (float in [0, 1]) of the held-out image with the most structure (largest LR std)."""
    root = prepared_samples()
    records = filter_split(read_manifest(root), "test")
    pairs = [(load_unit(root / r.lr).astype(np.float64), load_unit(root / r.hr).astype(np.float64)) for r in records]
    return max(pairs, key=lambda p: float(p[0].std()))


def write_dicom(path: Path, stored12: np.ndarray, photometric: str) -> None:
    """A real MR DICOM file: 12 bits stored in 16 allocated (junk in the unused high bits), rescale slope/intercept."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MRImageStorage, generate_uid(), "MR"
    ds.PatientID, ds.PatientName, ds.StudyInstanceUID = "ZOO-0001", "Test^Patient", generate_uid()
    ds.SeriesInstanceUID, ds.SeriesDescription = generate_uid(), "T1 axial"
    ds.Rows, ds.Columns = stored12.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelSpacing = 1, photometric, ["0.8", "0.8"]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = str(SLOPE), str(INTERCEPT)
    ds.PixelData = (stored12.astype(np.uint16) | 0xA000).tobytes()  # bits 12-15 are not pixel data
    ds.save_as(path, enforce_file_format=True)


def write_inputs(folder: Path, lr: np.ndarray) -> dict[str, tuple[Path, Callable[[np.ndarray], np.ndarray], float]]:
    """The LR image in every format: name -> (file, map from [0, 1] to the file's own units, value step)."""
    import nibabel as nib
    import tifffile
    from PIL import Image

    q = np.rint(4 + lr * 890).astype(np.uint16)  # 12-bit values 4..894, as a real MR
    twelve = lambda u: 4 + 890 * u  # noqa: E731
    files = {
        "png8": (folder / "png8.png", lambda u: 255 * u, 1.0),
        "png16": (folder / "png16.png", twelve, 1.0),
        "tiff": (folder / "tiff.tif", lambda u: SLOPE * twelve(u) + INTERCEPT, 1e-3),
        "dicom12": (folder / "dicom12.dcm", lambda u: SLOPE * twelve(u) + INTERCEPT, SLOPE),
        "dicom-mono1": (folder / "dicom-mono1.dcm", lambda u: SLOPE * twelve(u) + INTERCEPT, SLOPE),
        "nifti": (folder / "nifti.nii.gz", lambda u: NII_SLOPE * twelve(u) + NII_INTER, NII_SLOPE),
    }
    Image.fromarray(np.rint(lr * 255).astype(np.uint8)).save(files["png8"][0])
    Image.fromarray(q).save(files["png16"][0])  # 16-bit PNG holding 12-bit values
    tifffile.imwrite(files["tiff"][0], (q * SLOPE + INTERCEPT).astype(np.float32))
    write_dicom(files["dicom12"][0], q, "MONOCHROME2")
    write_dicom(files["dicom-mono1"][0], 4095 - q, "MONOCHROME1")  # same image: 0 is white
    img = nib.Nifti1Image(q.astype(np.int16)[:, :, None], np.eye(4))  # canonical: slice 0 is q itself
    img.header.set_slope_inter(NII_SLOPE, NII_INTER)
    nib.save(img, files["nifti"][0])
    return files


def psnr_own_units(sr: np.ndarray, hr_own: np.ndarray, data_range: float) -> float:
    return float(10 * np.log10(data_range**2 / np.mean((sr.astype(np.float64) - hr_own) ** 2)))


@pytest.fixture(scope="module")
def sr_every_format(tmp_path_factory: pytest.TempPathFactory) -> dict:
    lr, hr = held_out_pair()
    folder = tmp_path_factory.mktemp("formats")
    files = write_inputs(folder, lr)
    out = folder / "out"
    res = CliRunner().invoke(main, ["sr", *(str(f) for f, _, _ in files.values()), "--out", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with (out / "manifest.csv").open(newline="") as fh:
        written = {Path(r["input"]).name: out / r["output"] for r in csv.DictReader(fh)}
    return {"lr": lr, "hr": hr, "files": files, "written": written}


def test_same_sr_in_every_format_within_its_input_range(sr_every_format) -> None:
    hr, files = sr_every_format["hr"], sr_every_format["files"]
    scores = {}
    for name, (path, own, step) in files.items():
        before, after = read_image(path), read_image(sr_every_format["written"][path.name])
        assert after.format == before.format and after.array.shape[-2:] == hr.shape
        sr, lr_own = np.squeeze(after.array).astype(np.float64), np.squeeze(before.array).astype(np.float64)
        span = own(1.0) - own(0.0)
        np.testing.assert_allclose(lr_own, own(sr_every_format["lr"]), atol=span / 500)  # read back as written
        # no overshoot: the SR stays inside the input's own range (up to one value step of the format)
        assert lr_own.min() - step <= sr.min() and sr.max() <= lr_own.max() + step, (name, sr.min(), sr.max())
        scores[name] = psnr_own_units(sr, own(hr), span)
    assert max(scores.values()) - min(scores.values()) <= 0.05, scores
    bicubic = psnr_own_units(pil_resize(sr_every_format["lr"].astype(np.float32), hr.shape, "bicubic"), hr, 1.0)
    assert min(scores.values()) > bicubic - 2.0, (scores, bicubic)  # a sensible SR, not a uniformly wrong one


def test_dicom_sr_keeps_encoding_and_metadata(sr_every_format) -> None:
    for name in ("dicom12", "dicom-mono1"):
        path = sr_every_format["files"][name][0]
        src, out = pydicom.dcmread(path), pydicom.dcmread(sr_every_format["written"][path.name])
        for key in ("PatientID", "PatientName", "StudyInstanceUID", "Modality",
                    "PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                    "RescaleSlope", "RescaleIntercept"):
            assert out.get(key) == src.get(key), key
        assert out.SOPInstanceUID != src.SOPInstanceUID
        assert out.SeriesDescription.startswith(src.SeriesDescription)  # a derived series: suffixed
        assert (out.Rows, out.Columns) == (4 * src.Rows, 4 * src.Columns)
        assert [float(v) for v in out.PixelSpacing] == pytest.approx([0.2, 0.2])
        assert out.pixel_array.max() < 4096
