"""Writers: PNG (8/16-bit), TIFF, NIfTI (affine kept, spacing updated), DICOM (new pixel data), .npy.

``write_like(path, array, template)`` writes an array in the template image's format, updating the
geometry for the new size (``zoo sr`` writes its output "in the input's format"). Every write is
atomic: a failed write leaves no file.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.errors import DataError
from zoo.data.image import MedicalImage
from zoo.folders.atomic import atomic_path


def to_dtype(array: np.ndarray, dtype: str | np.dtype) -> np.ndarray:
    """Round and clip ``array`` into an integer ``dtype`` (or cast to a float one). An array already of ``dtype``
    is returned as is, and no copy wider than the input is made (``np.rint`` of integers would be float64)."""
    dtype = np.dtype(dtype)
    if array.dtype == dtype:
        return array
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if array.dtype.kind in "iu":
            return np.clip(array, info.min, info.max).astype(dtype)
        rounded = np.rint(array)  # in the input's float dtype
        return np.clip(rounded, info.min, info.max, out=rounded).astype(dtype)
    return array.astype(dtype)


PNG_COMPRESS_LEVEL = 1  # zlib level: at 2048² 16-bit, 2-7x faster to write than PIL's default 6, files 3-9 % larger


def write_png(path: str | os.PathLike, array: np.ndarray, bits: int | None = None) -> None:
    """Gray 8/16-bit or RGB 8-bit PNG (lossless, zlib level :data:`PNG_COMPRESS_LEVEL`). ``bits`` defaults to the
    array's dtype (uint8 -> 8, else 16).

    Float arrays are taken as [0, 1] and scaled to the full integer range.
    """
    from PIL import Image

    array = np.asarray(array)
    if bits is None:
        bits = 8 if array.dtype == np.uint8 or array.ndim == 3 else 16
    if bits not in (8, 16):
        raise ValueError(f"PNG bits must be 8 or 16, got {bits}")
    if array.dtype.kind == "f":
        array = np.clip(array, 0.0, 1.0) * (255 if bits == 8 else 65535)
    array = to_dtype(array, np.uint8 if bits == 8 else np.uint16)
    if array.ndim == 3:
        if bits != 8 or array.shape[-1] != 3:
            raise ValueError(f"{path}: colour PNG must be 8-bit RGB, got {array.shape} at {bits} bits")
        im = Image.fromarray(array)
    elif array.ndim == 2:
        im = Image.fromarray(array)
    else:
        raise ValueError(f"{path}: PNG needs a 2D image, got shape {array.shape}")
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


def write_tiff(path: str | os.PathLike, array: np.ndarray, spacing: tuple[float, float] | None = None) -> None:
    """TIFF of any dtype (gray, RGB or a stack), with the pixel spacing as resolution in mm."""
    import tifffile

    kwargs: dict = {"photometric": "rgb" if np.asarray(array).shape[-1:] == (3,) and array.ndim >= 3 else "minisblack"}
    if spacing:
        kwargs["resolution"] = (10.0 / spacing[1], 10.0 / spacing[0])
        kwargs["resolutionunit"] = "CENTIMETER"
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, np.asarray(array), **kwargs)


def write_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(array), allow_pickle=False)


def resampled_affine(affine: np.ndarray, zoom: tuple[float, float, float]) -> np.ndarray:
    """Affine of a volume resampled by ``zoom`` (new voxels per old voxel, per axis), same field of view.

    Voxel i' of the new grid sits at old-voxel coordinate (i' + 0.5) / zoom - 0.5 (voxel centres; the origin
    moves by half a new voxel minus half an old one along each axis, the shift :func:`write_dicom` gives
    ImagePositionPatient).
    """
    zoom_arr = np.asarray(zoom, dtype=float)
    step = np.diag(np.append(1.0 / zoom_arr, 1.0))
    step[:3, 3] = 0.5 / zoom_arr - 0.5
    return np.asarray(affine, dtype=float) @ step


def nifti_values(values: np.ndarray, template: MedicalImage) -> np.ndarray:
    """Values for :func:`write_nifti` in the template's encoding: rounded into its integer dtype, or, where the
    reader applied ``scl_slope``/``scl_inter`` (integers on disk, floats read), kept as floats for nibabel
    to scale into that dtype."""
    scaled = np.dtype(template.dtype).kind in "iu" and template.array.dtype.kind == "f"
    return np.asarray(values, dtype=np.float64) if scaled else to_dtype(values, template.dtype)


def write_nifti(path: str | os.PathLike, volume: np.ndarray, affine: np.ndarray, header=None,
                slice_axis: int = 2, dtype: str | np.dtype | None = None, frames: int = 1,
                forms: dict[str, tuple[np.ndarray, int]] | None = None) -> None:
    """NIfTI of a slices-first volume (S x H x W, as read along ``slice_axis``) with ``affine``: NIfTI-2 where
    ``header`` is a NIfTI-2 header, else NIfTI-1.

    ``forms`` (``{"sform": (matrix, code), "qform": (matrix, code)}``) gives the header's two transforms and
    their codes, kept as given; without it both are ``affine`` with code 1 (scanner). The voxel sizes
    (pixdim) follow the qform, as the NIfTI standard has it. ``dtype`` (default: the volume's) is the on-disk
    type: float values given for an integer ``dtype`` are stored with a scl_slope/scl_inter that nibabel
    picks. ``frames > 1``: ``volume`` holds that many volumes one after the other (as
    :func:`~zoo.data.readers.read_nifti` with ``frame=None`` reads them): a 4D file whose 4th zoom
    (e.g. the repetition time) comes from ``header``."""
    import nibabel as nib

    data = _nifti_data(np.asarray(volume), slice_axis, frames)
    hdr = header.copy() if header is not None else None
    if hdr is not None:
        hdr.set_data_dtype(data.dtype)
        hdr.set_data_shape(data.shape)
    image_class = nib.Nifti2Image if isinstance(hdr, nib.Nifti2Header) else nib.Nifti1Image
    img = image_class(data, affine, header=hdr)
    img.set_data_dtype(np.dtype(dtype or data.dtype))
    forms = forms or {"sform": (affine, 1), "qform": (affine, 1)}
    zooms = tuple(float(z) for z in np.sqrt((np.asarray(forms["qform"][0])[:3, :3] ** 2).sum(axis=0)))
    if data.ndim == 4:
        old = header.get_zooms() if header is not None else ()
        zooms += (float(old[3]) if len(old) > 3 else 1.0,)
    img.header.set_zooms(zooms)
    img.set_qform(forms["qform"][0], code=int(forms["qform"][1]))
    img.set_sform(forms["sform"][0], code=int(forms["sform"][1]))
    suffix = ".nii.gz" if str(path).lower().endswith(".gz") else ".nii"
    with atomic_path(path, suffix=suffix) as tmp:
        nib.save(img, str(tmp))


def _nifti_data(volume: np.ndarray, slice_axis: int, frames: int) -> np.ndarray:
    """The (x, y, z[, t]) array of a slices-first ``volume`` read along ``slice_axis`` (``frames`` volumes)."""
    if frames <= 1:
        return np.moveaxis(volume, 0, slice_axis)
    if volume.shape[0] % frames:
        raise ValueError(f"{volume.shape[0]} slices do not split into {frames} frames")
    stack = volume.reshape(frames, volume.shape[0] // frames, *volume.shape[1:])
    return np.moveaxis(np.moveaxis(stack, 1, slice_axis + 1), 0, -1)


def resampled_forms(template: MedicalImage, zoom: tuple[float, float, float]) -> dict[str, tuple[np.ndarray, int]]:
    """The template NIfTI's sform and qform resampled by ``zoom`` (:func:`resampled_affine`), codes kept.

    A template without recorded forms (made by older code) gets its affine in both, code 1."""
    forms = template.extra.get("forms") or {name: (template.extra["affine"], 1) for name in ("sform", "qform")}
    return {name: (resampled_affine(matrix, zoom), code) for name, (matrix, code) in forms.items()}


def dicom_stored_values(values: np.ndarray, template: MedicalImage) -> np.ndarray:
    """Gray values as read (modality units, bright = high) -> stored pixel values of the template's encoding.

    The inverse of the reader's value mapping: the MONOCHROME1 inversion is undone (the photometric
    interpretation is kept), then the rescale slope/intercept; values are rounded and clipped to the
    template's BitsStored range, signed or not as its PixelRepresentation, in its BitsAllocated
    container. A ModalityLUTSequence (no inverse kept) stores the values as read in 16 bits.
    """
    ds = template.extra["dataset"]
    values = np.asarray(values, dtype=np.float64)
    slope, intercept = template.extra.get("rescale", (1.0, 0.0))
    if "ModalityLUTSequence" in ds:
        return to_dtype(values, np.int16 if values.min() < 0 else np.uint16)
    signed = bool(ds.get("PixelRepresentation", 0))
    bits = int(ds.get("BitsStored", 16) or 16)
    smin, smax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if template.extra.get("inverted"):
        values = (smin + smax) * slope + 2 * intercept - values
    stored = np.clip(np.rint((values - intercept) / slope), smin, smax)
    container = int(ds.get("BitsAllocated", 16) or 16)
    return stored.astype(f"{'i' if signed else 'u'}{max(container, 8) // 8}")


def write_dicom(path: str | os.PathLike, array: np.ndarray, template: MedicalImage,
                derived: DerivedSeries | None = None) -> None:
    """DICOM with new pixel data, built from the template's dataset.

    Updates Rows/Columns/PixelSpacing and ImagePositionPatient (the first pixel's centre moves with the new
    size), also in the functional groups of enhanced multi-frame files (:func:`_regrid`), NumberOfFrames, a new
    SOPInstanceUID, and writes uncompressed Explicit VR Little Endian. Gray values keep the input's
    encoding (:func:`dicom_stored_values`): a reader gets the same values back and the window
    centre/width (in rescaled units) still fits them; MONOCHROME1 stays MONOCHROME1. ``derived`` makes
    the file part of a derived series (:class:`DerivedSeries`).
    """
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    src = template.extra.get("dataset")
    if src is None:
        raise ValueError("write_dicom needs a template read from a DICOM file")
    ds = copy.deepcopy(src)  # never touch the template's dataset
    if 0xFFFCFFFC in ds:  # trailing padding of the old pixel data
        del ds[0xFFFCFFFC]
    array = np.asarray(array)
    old_shape = template.array.shape[-3:-1] if template.layout.endswith("C") else template.array.shape[-2:]
    color = template.layout.endswith("C")
    frames = array.shape[0] if template.is_volume else 1
    h, w = (array.shape[-3], array.shape[-2]) if color else (array.shape[-2], array.shape[-1])
    if color:
        stored = to_dtype(array, np.uint8)
        ds.PhotometricInterpretation = "RGB"
        ds.SamplesPerPixel, ds.PlanarConfiguration = 3, 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    else:
        stored = dicom_stored_values(array, template)
        ds.BitsAllocated = stored.dtype.itemsize * 8
        ds.SamplesPerPixel = 1
        for tag in ("PlanarConfiguration", "SmallestImagePixelValue", "LargestImagePixelValue", "ModalityLUTSequence"):
            if tag in ds:
                del ds[tag]
        if "ModalityLUTSequence" in src:  # its inverse is not kept: the values are stored as read, 16 bits
            ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, int(stored.dtype.kind == "i")
    ds.Rows, ds.Columns = int(h), int(w)
    if frames > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = int(frames)
    _regrid(ds, (old_shape[0] / h, old_shape[1] / w))
    if derived is not None:
        derived.apply(ds, src)
    uid = generate_uid()
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if "SOPClassUID" in ds:
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.PixelData = np.ascontiguousarray(stored).astype(stored.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OB" if stored.dtype.itemsize == 1 else "OW"
    ds["PixelData"].is_undefined_length = False
    with atomic_path(path, suffix=".dcm") as tmp:
        ds.save_as(tmp, enforce_file_format=True)


@dataclass(frozen=True)
class DerivedSeries:
    """What makes written DICOM files a derived series beside their source series.

    ``series_uid``: the new SeriesInstanceUID (one per input series, see :func:`derived_series_uid`);
    ``description``: DerivationDescription; ``suffix``: appended to SeriesDescription;
    ``series_number_offset``: added to SeriesNumber so viewers list the new series apart.
    """

    series_uid: str
    description: str
    suffix: str = " SR"
    series_number_offset: int = 1000
    sources: tuple[tuple[str, str], ...] = ()  # (SOP Class, SOP Instance UID) of images it derives from, first

    def apply(self, ds, source) -> None:
        """Set the derived-series tags of ``ds`` (a copy of ``source``, the input dataset)."""
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        ds.SeriesInstanceUID = self.series_uid
        kept = [str(v) for v in (source.get("ImageType") or [])][2:]
        ds.ImageType = ["DERIVED", "SECONDARY", *kept]
        refs = []
        for sop_class, sop_instance in self.sources:
            refs.append(Dataset())
            refs[-1].ReferencedSOPClassUID, refs[-1].ReferencedSOPInstanceUID = sop_class, sop_instance
        ref = Dataset()
        if "SOPClassUID" in source:
            ref.ReferencedSOPClassUID = source.SOPClassUID
        if "SOPInstanceUID" in source:
            ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
        ds.SourceImageSequence = Sequence([*refs, ref])
        ds.DerivationDescription = self.description[:1024]
        base = str(source.get("SeriesDescription", "") or "")
        ds.SeriesDescription = (base[: 64 - len(self.suffix)] + self.suffix).strip()
        number = source.get("SeriesNumber")
        if number not in (None, ""):
            ds.SeriesNumber = int(number) + self.series_number_offset


def derived_series_uid(source_series_uid: str, *context: str) -> str:
    """A new SeriesInstanceUID for the SR of one input series: the same for every file of that series and
    every process (and a resumed run) given the same ``context`` (e.g. output folder and pipeline)."""
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[str(source_series_uid), "zoo-sr-derived", *map(str, context)])


def _regrid(ds, ratio: tuple[float, float]) -> None:
    """Move ``ds``'s pixel grid to the SR one: ``ratio`` = new spacing / old spacing per (row, column).

    Spacing (top level and the enhanced multi-frame PixelMeasuresSequence, shared and per frame) is scaled;
    every ImagePositionPatient (top level, PlanePositionSequence shared and per frame) moves to the new first
    pixel's centre, using the orientation and old spacing that apply to it (its frame's, else the shared
    group's, else the top level's): the image's edge stays where it was."""
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    frames = [item for item in ds.get("PerFrameFunctionalGroupsSequence") or [] if item is not None]
    for item in [ds, shared, *frames]:  # positions first: each needs its old spacing
        if item is None:
            continue
        orientation = _orientation(item) or _orientation(shared) or _orientation(ds)
        spacing = _spacing(item) or _spacing(shared) or _spacing(ds)
        for position in [item] if item is ds else item.get("PlanePositionSequence") or []:
            _move_origin(position, orientation, spacing, ratio)
    for item in [ds, shared, *frames]:
        for measures in [] if item is None else [item, *(item.get("PixelMeasuresSequence") or [])]:
            _rescale_spacing(measures, ratio)


def _orientation(item) -> list[float] | None:
    """ImageOrientationPatient of a dataset or a functional group item (its PlaneOrientationSequence)."""
    if item is None:
        return None
    for source in [item, *(item.get("PlaneOrientationSequence") or [])]:
        value = source.get("ImageOrientationPatient")
        if value is not None and len(value) == 6:
            return [float(v) for v in value]
    return None


def _spacing(item) -> tuple[float, float] | None:
    """(row, column) PixelSpacing of a dataset or a functional group item (its PixelMeasuresSequence)."""
    if item is None:
        return None
    for source in [item, *(item.get("PixelMeasuresSequence") or [])]:
        value = source.get("PixelSpacing")
        if value is not None and len(value) == 2:
            return float(value[0]), float(value[1])
    return None


def _rescale_spacing(item, ratio: tuple[float, float]) -> None:
    for key in ("PixelSpacing", "ImagerPixelSpacing"):
        if key in item and item[key].value is not None and len(item[key].value) == 2:
            row, col = (float(v) for v in item[key].value)
            item[key].value = [_decimal_string(row * ratio[0]), _decimal_string(col * ratio[1])]


def _move_origin(item, orientation: list[float] | None, spacing: tuple[float, float] | None,
                 ratio: tuple[float, float]) -> None:
    """ImagePositionPatient is the centre of the first pixel: move it to the new first pixel's centre.

    ``spacing`` is the old (row, column) spacing; ``ratio`` = new spacing / old spacing."""
    if item.get("ImagePositionPatient") is None or orientation is None or spacing is None:
        return
    row_dir, col_dir = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    old_row, old_col = spacing
    # x along a row (column index) uses the column spacing; y down the columns (row index) the row spacing
    shift = 0.5 * old_col * (ratio[1] - 1) * row_dir + 0.5 * old_row * (ratio[0] - 1) * col_dir
    pos = np.asarray([float(v) for v in item.ImagePositionPatient]) + shift
    item.ImagePositionPatient = [_decimal_string(v) for v in pos]


def _decimal_string(value: float) -> str:
    """``value`` as a DICOM decimal string, as precise as its 16 characters allow (a shift of a fraction of
    a pixel survives a position in the thousands of mm)."""
    from pydicom.valuerep import format_number_as_ds

    return format_number_as_ds(float(value))


def write_like(path: str | os.PathLike, array: np.ndarray, template: MedicalImage,
               derived: DerivedSeries | None = None, float_nifti: bool = False) -> Path:
    """Write ``array`` (same layout as ``template.array``, any size) in the template's format.

    Values are cast back to the template's stored dtype for PNG/TIFF/NIfTI (``float_nifti``: a NIfTI as
    float32, unscaled, e.g. an uncertainty map); geometry (NIfTI affine, DICOM PixelSpacing, TIFF
    resolution) is scaled by the size ratio. Returns the path written.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.ndim != template.array.ndim:
        raise DataError(path, f"array shape {array.shape} does not match the input layout {template.layout}")
    fmt = template.format
    if template.layout.endswith("C"):
        old_hw, new_hw = template.array.shape[-3:-1], array.shape[-3:-1]
    else:
        old_hw, new_hw = template.array.shape[-2:], array.shape[-2:]
    ratio = (new_hw[0] / old_hw[0], new_hw[1] / old_hw[1])
    spacing = None if template.spacing is None else (template.spacing[0] / ratio[0], template.spacing[1] / ratio[1])
    if fmt in ("png", "jpeg"):
        dtype = np.dtype(template.dtype) if np.dtype(template.dtype).kind in "ui" else np.uint16
        bits = 8 if dtype.itemsize == 1 else 16
        write_png(path, to_dtype(array, np.uint8 if bits == 8 else np.uint16), bits=bits)
    elif fmt == "tiff":
        write_tiff(path, to_dtype(array, template.array.dtype), spacing=spacing)
    elif fmt == "npy":
        write_npy(path, array.astype(template.array.dtype, copy=False))
    elif fmt == "nifti":
        axis = template.extra.get("slice_axis", 2)
        zoom = [1.0, 1.0, 1.0]
        rows, cols = (a for a in (0, 1, 2) if a != axis)
        zoom[rows], zoom[cols] = ratio
        affine = resampled_affine(template.extra["affine"], tuple(zoom))
        values, dtype = (array.astype(np.float32), np.float32) if float_nifti else (nifti_values(array, template),
                                                                                  template.dtype)
        write_nifti(path, values, affine, template.extra.get("header"), slice_axis=axis,
                    dtype=dtype, frames=int(template.extra.get("frames", 1) or 1),
                    forms=resampled_forms(template, tuple(zoom)))
    elif fmt == "dicom":
        write_dicom(path, array, template, derived=derived)
    else:
        raise DataError(path, f"no writer for format {fmt!r}")
    return path
