"""Readers: every supported file becomes a :class:`MedicalImage` (array + metadata)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from zoo.data.errors import DataError
from zoo.data.formats import detect_format, stem
from zoo.data.image import MedicalImage, value_range
from zoo.data.limits import check_pixels, out_of_memory

# The decoders pydicom can use for compressed transfer syntaxes, and what to install for them.
DICOM_DECODER_HINT = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg (or pyjpegls / python-gdcm)"


def read_image(path: str | os.PathLike, frame: int | None = 0, slice_axis: int | str = 2,
               canonical: bool = True) -> MedicalImage:
    """Read any supported file (PNG, JPEG, TIFF, DICOM, NIfTI, .npy) into a :class:`MedicalImage`.

    For NIfTI, ``frame`` picks the volume of a 4D file (``None``: every frame, stacked frame after frame
    along the slice axis, ``extra["frames"]`` holding their number) and ``slice_axis`` the voxel axis to slice
    along. With ``canonical`` (default) the voxels are first reoriented to the closest canonical (RAS+) order:
    2 axial (default), 1 coronal, 0 sagittal. ``canonical=False`` keeps the file's voxel order (what ``zoo sr``
    reads and writes back); ``slice_axis="auto"`` slices across the acquisition plane, the two finest axes
    (:func:`~zoo.data.slices.acquisition_slice_axis`). Raises :class:`DataError` ("<file>: <reason>") for
    anything that cannot be used: truncated, mislabelled, empty, NaN/inf values; ``ValueError`` for a
    ``slice_axis`` other than auto, 0, 1, 2.
    """
    fmt = detect_format(path)
    if fmt == "nifti":
        image = read_nifti(Path(path), frame, slice_axis, canonical)
    else:
        image = READERS[fmt](Path(path))
    if image.array.dtype.byteorder == ">" or image.dtype.startswith(">"):  # big-endian files: native order
        image.array = image.array.astype(image.array.dtype.newbyteorder("="))
        image.dtype = str(np.dtype(image.dtype).newbyteorder("="))
    check_values(image)
    return image


MIN_SIDE = 2
"""The fewest pixels an image (each slice of a volume) may have along each side: a single row or column has
no 2D structure to super-resolve, measure (SSIM) or train on."""


def check_values(image: MedicalImage) -> None:
    """Reject empty arrays, images under :data:`MIN_SIDE` pixels a side, and NaN/inf values."""
    if image.array.size == 0 or min(image.array.shape) == 0:
        raise DataError(image.source, f"empty image (shape {tuple(image.array.shape)})")
    height, width = (image.array.shape[image.layout.index(axis)] for axis in "HW")
    if min(height, width) < MIN_SIDE:
        raise DataError(image.source, f"image is {height}x{width} pixels: too small (each side needs at least "
                                      f"{MIN_SIDE} pixels)")
    if image.array.dtype.kind == "f" and not np.isfinite(image.array).all():
        bad = int((~np.isfinite(image.array)).sum())
        raise DataError(image.source, f"{bad} NaN/inf value(s) in the pixel data")
    if image.array.dtype.kind not in "biuf":
        raise DataError(image.source, f"unsupported pixel type {image.array.dtype}")


def _layout_2d(array: np.ndarray, path: Path) -> str:
    if array.ndim == 2:
        return "HW"
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        return "HWC"
    raise DataError(path, f"expected a 2D gray or RGB image, got array shape {array.shape}")


def read_pil(path: Path) -> MedicalImage:
    """PNG/JPEG (and TIFF fallback) through Pillow: 8/16-bit gray, 8-bit RGB(A)."""
    from PIL import Image, UnidentifiedImageError

    with open(path, "rb") as fh:
        head = fh.read(26)
    png = head[:8] == b"\x89PNG\r\n\x1a\n"
    if png and len(head) < 26:
        raise DataError(path, "truncated PNG: its header is incomplete")
    if png and head[24] == 16 and head[25] in (2, 6):  # IHDR bit depth, colour type
        raise DataError(path, "16-bit colour PNG is not supported (Pillow would reduce it to 8 bits); "
                              "save it as 16-bit TIFF or as gray PNG")
    if png:  # IHDR width, height: refuse a bomb before Pillow
        check_pixels(path, (int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")))
    try:
        with _pillow_checks_off(), Image.open(path) as im:
            check_pixels(path, (im.size[1], im.size[0]))  # zoo's cap (ZOO_MAX_IMAGE_PIXELS) replaces Pillow's
            im.load()
            fmt = (im.format or "").lower()
            if im.mode in ("I;16", "I;16B", "I;16L"):
                array = np.asarray(im, dtype=np.uint16)
            elif im.mode in ("1", "L", "RGB", "RGBA", "I", "F"):
                array = np.asarray(im)
            elif im.mode == "LA":
                array = np.asarray(im.convert("L"))
            elif im.mode == "P":
                array = np.asarray(im.convert("RGB"))
            else:
                raise DataError(path, f"unsupported image mode {im.mode!r}")
            dpi = im.info.get("dpi")
    except MemoryError:
        raise out_of_memory(path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(path, f"cannot decode image ({err})") from None
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 3 and array.shape[-1] == 4:
        array = array[..., :3]
    spacing = None
    if dpi and all(d and d > 1 for d in dpi):  # pixels per inch -> mm per pixel (rows, cols)
        spacing = (25.4 / float(dpi[1]), 25.4 / float(dpi[0]))
    return MedicalImage(
        array=array, source=str(path), format="jpeg" if fmt == "jpeg" else "png", layout=_layout_2d(array, path),
        dtype=str(array.dtype), value_range=value_range(array), spacing=spacing, subject=stem(path),
    )


@contextlib.contextmanager
def _pillow_checks_off():
    """Pillow's own decompression-bomb check off while zoo's (configurable) one runs on the header."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


@contextlib.contextmanager
def quiet_tifffile():
    """tifffile's warnings about damaged files off (the reader's one-line DataError says what is wrong)."""
    import logging

    logger = logging.getLogger("tifffile")
    saved = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(saved)


def read_tiff(path: Path) -> MedicalImage:
    """TIFF through tifffile: any integer/float dtype, gray or RGB, single page or a page stack."""
    import tifffile

    try:
        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            _check_tiff_size(path, tif)
            array = tif.asarray()
            page = tif.pages[0]
            photometric = getattr(page.photometric, "name", "")
            xres = page.tags.get("XResolution")
            unit = page.tags.get("ResolutionUnit")
    except MemoryError:
        raise out_of_memory(path) from None
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(path, f"cannot decode TIFF ({err})") from None
    array = np.squeeze(array) if array.ndim > 2 and 1 in array.shape[:-2] else array
    rgb = photometric == "RGB" and array.shape[-1] in (3, 4)
    if rgb and array.shape[-1] == 4:
        array = array[..., :3]
    if array.ndim == 2:
        layout = "HW"
    elif array.ndim == 3:
        layout = "HWC" if rgb else "SHW"
    elif array.ndim == 4 and rgb:
        layout = "SHWC"
    else:
        raise DataError(path, f"unsupported TIFF layout (array shape {array.shape})")
    spacing = None
    if xres is not None and unit is not None and unit.value in (2, 3):
        num, den = xres.value
        if num and den:
            per_mm = (num / den) / (25.4 if unit.value == 2 else 10.0)
            spacing = (1.0 / per_mm, 1.0 / per_mm)
    return MedicalImage(
        array=array, source=str(path), format="tiff", layout=layout, dtype=str(array.dtype),
        value_range=value_range(array), spacing=spacing, subject=stem(path),
    )


def _check_tiff_size(path: Path, tif) -> None:
    """The declared shape of what ``tif.asarray()`` decodes (the first series), channels excluded."""
    if not tif.series:
        return
    series = tif.series[0]
    shape = list(series.shape)
    axes = getattr(series, "axes", "")
    if len(axes) == len(shape) and "S" in axes:  # samples per pixel (colour channels)
        del shape[axes.index("S")]
    check_pixels(path, shape)


def _check_npy_size(path: Path) -> None:
    """The shape an ``.npy`` header declares, before the array is read."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as fh:
            version = fmt.read_magic(fh)
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, _ = reader(fh)
    except (ValueError, OSError, EOFError):
        return  # np.load reports what is wrong with the file
    if len(shape) == 3 and shape[-1] in (3, 4) and shape[0] > 4:
        shape = shape[:-1]
    check_pixels(path, shape)


def read_npy(path: Path) -> MedicalImage:
    """A NumPy ``.npy`` array: H x W, H x W x 3, or S x H x W (never a pickle)."""
    _check_npy_size(path)
    try:
        array = np.load(path, allow_pickle=False)
    except MemoryError:
        raise out_of_memory(path) from None
    except (ValueError, OSError, EOFError) as err:
        raise DataError(path, f"cannot read .npy ({err})") from None
    if array.ndim == 2:
        layout = "HW"
    elif array.ndim == 3:
        layout = "HWC" if array.shape[-1] in (3, 4) and array.shape[0] > 4 else "SHW"
    else:
        raise DataError(path, f"expected a 2D image or a 3D stack, got array shape {array.shape}")
    return MedicalImage(
        array=array, source=str(path), format="npy", layout=layout, dtype=str(array.dtype),
        value_range=value_range(array), subject=stem(path),
    )


def check_nifti_scaling(path: Path, img) -> None:
    """A :class:`DataError` for an infinite ``scl_slope`` in ``img``'s file, which nibabel would silently ignore.

    Per the NIfTI standard a slope of 0 means no scaling, and NaN is read the same way (nibabel's rule); an
    infinite slope defines no value at all. nibabel resets the loaded header's scaling fields, so the header
    is read again from the file. (nibabel itself refuses a non-finite ``scl_inter`` beside a valid slope.)"""
    part = "header" if "header" in img.file_map else "image"
    with img.file_map[part].get_prepare_fileobj(mode="rb") as fh:
        header = img.header_class.from_fileobj(fh)
    if "scl_slope" not in header:  # plain Analyze: no scaling fields
        return
    slope = float(header["scl_slope"])
    if np.isinf(slope):
        raise DataError(path, f"scl_slope is {slope}: the voxel scaling is not defined "
                              "(0 or NaN would mean no scaling)")


def read_nifti(path: Path, frame: int | None = 0, slice_axis: int | str = 2, canonical: bool = True) -> MedicalImage:
    """NIfTI-1/2 through nibabel, in the file's voxel order or (``canonical``) the closest canonical (RAS+) one.

    The array is returned slices-first along ``slice_axis`` of that voxel grid (2 = the last array axis,
    axial in canonical order): ``array[z] == data[:, :, z]`` with no transpose, as in the paper's BraTS
    script. ``slice_axis="auto"`` picks the acquisition plane (:func:`~zoo.data.slices.acquisition_slice_axis`:
    the slice axis is the one with the largest voxel size, ties to the last). For 4D files ``frame`` picks
    the volume; ``frame=None`` keeps them all: ``array`` is then frame 0's slices, then frame 1's, ...
    (``extra["frames"]`` frames of ``extra["slices"]`` slices; a 3D file has one frame). ``extra`` keeps the
    affine, the header and the sform/qform (matrices and codes) of the returned voxel order.
    """
    import nibabel as nib

    try:
        img = nib.load(str(path))
        check_nifti_scaling(path, img)
        check_pixels(path, img.shape, "volume")  # the header's shape, before any voxel is read
        forms = _nifti_forms(img.header)
        if canonical:
            img, forms = _to_canonical(img, forms)
        data = np.asanyarray(img.dataobj)
    except MemoryError:
        raise out_of_memory(path) from None
    except DataError:
        raise
    except Exception as err:  # nibabel raises many types for truncated/garbled files
        raise DataError(path, f"cannot read NIfTI ({type(err).__name__}: {err})") from None
    frames = 1
    if data.ndim == 4 and frame is None:
        frames = data.shape[3]
    elif data.ndim == 4:
        if not 0 <= frame < data.shape[3]:
            raise DataError(path, f"frame {frame} out of range: the file has {data.shape[3]} volume(s)")
        data = data[..., frame]
    elif data.ndim == 2:
        data = data[:, :, None]
    elif data.ndim not in (3, 4) or (data.ndim == 4 and frame is not None):
        raise DataError(path, f"expected a 3D or 4D NIfTI, got {data.ndim}D (shape {data.shape})")
    zooms = [float(z) for z in img.header.get_zooms()[:3]]
    zooms += [1.0] * (3 - len(zooms))
    slice_axis = _nifti_slice_axis(slice_axis, img.affine, data.shape[:3])
    rows, cols = (a for a in (0, 1, 2) if a != slice_axis)
    if data.ndim == 4:  # (x, y, z, t) -> t frames of slices-first volumes, one after the other
        array = np.ascontiguousarray(np.moveaxis(np.moveaxis(data, 3, 0), slice_axis + 1, 1))
        array = array.reshape(-1, *array.shape[2:])
    else:
        array = np.ascontiguousarray(np.moveaxis(data, slice_axis, 0))
    return MedicalImage(
        array=array, source=str(path), format="nifti", layout="SHW", dtype=str(img.get_data_dtype()),
        value_range=value_range(array), spacing=(zooms[rows], zooms[cols]), slice_spacing=zooms[slice_axis],
        subject=stem(path), modality=None,
        extra={"affine": img.affine.copy(), "header": img.header.copy(), "forms": forms, "frame": frame,
               "slice_axis": slice_axis, "frames": frames, "slices": data.shape[slice_axis]},
    )


def _nifti_slice_axis(slice_axis: int | str, affine: np.ndarray, shape: tuple[int, ...]) -> int:
    """``slice_axis`` checked (auto, 0, 1, 2); ``auto`` resolved from the voxel sizes of ``affine``."""
    from zoo.data.slices import acquisition_slice_axis, parse_slice_axis

    axis = parse_slice_axis(slice_axis)
    if axis != "auto":
        return int(axis)
    return acquisition_slice_axis(np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0)), shape)


def _nifti_forms(header) -> dict[str, tuple[np.ndarray, int]]:
    """The header's sform and qform as ``{"sform": (matrix, code), "qform": (matrix, code)}`` (codes as stored)."""
    return {"sform": (header.get_sform(), int(header["sform_code"])),
            "qform": (header.get_qform(), int(header["qform_code"]))}


def _to_canonical(img, forms: dict[str, tuple[np.ndarray, int]]):
    """``img`` in the closest canonical (RAS+) voxel order, and ``forms`` moved to that voxel order."""
    import nibabel as nib
    from nibabel.orientations import inv_ornt_aff, io_orientation

    to_canonical = inv_ornt_aff(io_orientation(img.affine), img.shape[:3])
    moved = {name: (matrix @ to_canonical, code) for name, (matrix, code) in forms.items()}
    return nib.as_closest_canonical(img), moved


def read_dicom(path: Path) -> MedicalImage:
    """DICOM through pydicom: modality LUT (rescale slope/intercept), MONOCHROME1 inverted to bright=high,
    palette/YBR converted to RGB, multi-frame as a stack. Compressed transfer syntaxes need pydicom's
    optional decoders; without them the error names what to install."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    try:
        ds = pydicom.dcmread(str(path), force=True)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError) as err:
        raise DataError(path, f"cannot read DICOM ({err})") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        if "SOPClassUID" not in ds and "Rows" not in ds:
            raise DataError(path, "not a DICOM file (no DICOM elements found)")
        raise DataError(path, f"DICOM without pixel data (modality {ds.get('Modality', '?')})")
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    _check_dicom_size(path, ds)
    try:
        raw = ds.pixel_array
    except (RuntimeError, NotImplementedError) as err:
        if "missing" in str(err) or "plugin" in str(err) or "decoder" in str(err).lower():
            name = getattr(tsyntax, "name", str(tsyntax))
            raise DataError(path, f"compressed DICOM ({name}) needs an optional decoder: "
                            f"{DICOM_DECODER_HINT}") from None
        raise DataError(path, f"cannot decode DICOM pixel data ({err})") from None
    except MemoryError:
        raise out_of_memory(path) from None
    except (ValueError, AttributeError, KeyError, TypeError, EOFError, OSError) as err:
        raise DataError(path, f"cannot decode DICOM pixel data, file truncated or corrupt? ({err})") from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    extra: dict = {"dataset": ds, "photometric": photometric}
    if photometric == "PALETTE COLOR":
        array = apply_color_lut(raw, ds)
        array = (array >> 8).astype(np.uint8) if array.dtype == np.uint16 else array
    elif photometric.startswith("MONOCHROME"):
        array = apply_modality_lut(raw, ds)
        slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
        extra["rescale"] = (slope, intercept)
        if photometric == "MONOCHROME1":  # 0 is white: invert the stored range so that high values are bright
            bits = int(ds.get("BitsStored", raw.dtype.itemsize * 8))
            signed = bool(ds.get("PixelRepresentation", 0))
            smin, smax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
            extra["inversion"] = (smin + smax) * slope + 2 * intercept
            array = extra["inversion"] - array.astype(np.float64)
            extra["inverted"] = True
    else:
        array = raw  # pydicom converts YBR to RGB by default
    if array.dtype.kind == "f" and float(np.abs(array - np.round(array)).max(initial=0)) == 0 and array.size:
        lo, hi = value_range(array)
        if -32768 <= lo and hi <= 65535:  # integer-valued rescale: keep an integer type
            array = array.astype(np.int32 if lo < 0 else np.uint16 if hi > 255 else np.uint8)
    if frames > 1:
        layout = "SHWC" if array.ndim == 4 else "SHW"
    else:
        layout = "HWC" if array.ndim == 3 else "HW"
    if array.ndim != len(layout):
        raise DataError(path, f"unexpected DICOM pixel array shape {array.shape} for {frames} frame(s)")
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    spacing = (float(spacing[0]), float(spacing[1])) if spacing is not None and len(spacing) == 2 else None
    spacing = spacing if spacing and min(spacing) > 0 else None  # some files store 0\\0
    thickness = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness")
    subject = str(ds.get("PatientID", "") or "") or stem(path)
    return MedicalImage(
        array=array, source=str(path), format="dicom", layout=layout, dtype=str(raw.dtype),
        value_range=value_range(array), spacing=spacing,
        slice_spacing=float(thickness) if thickness not in (None, "") else None,
        subject=subject, modality=str(ds.get("Modality", "") or "") or None, extra=extra,
    )


def _check_dicom_size(path: Path, ds) -> None:
    """Rows x Columns x NumberOfFrames as the header declares them, before the pixel data is decoded."""
    try:
        dims = (int(ds.get("NumberOfFrames", 1) or 1), int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0))
    except (TypeError, ValueError):
        return  # decoding reports the bad header
    check_pixels(path, dims if dims[0] > 1 else dims[1:])


READERS = {
    "png": read_pil,
    "jpeg": read_pil,
    "tiff": read_tiff,
    "npy": read_npy,
    "nifti": read_nifti,
    "dicom": read_dicom,
}
