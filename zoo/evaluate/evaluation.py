"""Evaluate a folder of predictions against a folder of references, paired strictly by id.

:func:`evaluate_folders` returns a JSON-ready dict (``per_image`` records + ``summary``) that
:mod:`zoo.evaluate.report` writes. A ``reference_fn`` turns each HR image into the reference
actually scored (the self-referential protocol passes ``decode(encode(HR))``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zoo.evaluate import hallucination as hal
from zoo.evaluate.images import read_image
from zoo.evaluate.metrics import masked_psnr, masked_ssim, ms_ssim, ms_ssim_scales, psnr, ssim
from zoo.evaluate.pairing import MASK_COLUMNS, REF_COLUMNS, image_set, matched_ids, pair_ids, select_split
from zoo.evaluate.spectrum import radial_profile
from zoo.evaluate.stats import bland_altman, mean_std
from zoo.evaluate.wavelets import band_errors, band_names, band_psnr

ReferenceFn = Callable[[np.ndarray], np.ndarray]


def image_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM (skimage defaults), MS-SSIM and Haar band metrics of one pair."""
    if pred.shape != ref.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {ref.shape}")
    record = {"psnr": psnr(pred, ref), "ssim": ssim(pred, ref), "ms_ssim": ms_ssim(pred, ref)}
    if min(pred.shape) >= 8:
        for band, value in band_psnr(pred, ref).items():
            record[f"band_psnr_{band}"] = value
        for band, errs in band_errors(pred, ref).items():
            record[f"band_mse_{band}"] = errs["mse"]
            record[f"band_rel_err_{band}"] = errs["rel_energy_error"]
    record["mean_pred"] = float(pred.mean())
    record["mean_ref"] = float(ref.mean())
    return record


def _summary(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    keys = [k for k, v in records[0].items() if isinstance(v, float)]
    return {k: mean_std([r.get(k, math.nan) for r in records]) for k in keys}


def evaluate_folders(
    pred_dir: str | Path,
    ref_dir: str | Path,
    *,
    reference_fn: ReferenceFn | None = None,
    mask_dir: str | Path | None = None,
    floor_dir: str | Path | None = None,
    tau: float | None = None,
    limit: int | None = None,
    split: str = "all",
    progress: bool = False,
    lpips: bool = False,
    n_examples: int = 3,
    uncertainty_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Score every prediction against its reference (same id) and summarise as the paper does.

    ``mask_dir``: masks by id (ROI PSNR/SSIM). ``floor_dir``: AE reconstructions by id giving the
    per-image hallucination floor τ; ``tau``: a fixed, VAE-independent τ instead. The first
    ``n_examples`` pairs are kept as arrays under ``examples`` (for figures; not JSON).
    ``split`` restricts a prepared reference folder to one split (see
    :func:`~zoo.evaluate.pairing.select_split`; ``auto`` matches the predictions' ids).
    ``uncertainty_dir``: maps ``ID.uncertainty.EXT`` (``zoo sr --uncertainty``) scored against each
    prediction's error (:func:`zoo.evaluate.uncertainty.map_record`; the AUROC where ``ref_dir`` is a
    prepared folder listing the LR images).
    """
    from tqdm import tqdm

    preds = image_set(pred_dir)
    refs, split = select_split(image_set(ref_dir, REF_COLUMNS), split, preds.paths)
    ids = pair_ids(preds, refs)
    masks = image_set(mask_dir, MASK_COLUMNS) if mask_dir else None
    floors = image_set(floor_dir, REF_COLUMNS) if floor_dir else None
    for extra, label in ((masks, "masks"), (floors, "noise-floor images")):
        if extra is not None:
            matched_ids(preds.paths, extra.paths, (f"pred {preds.root}", f"{label} {extra.root}"))
    ids = ids[:limit] if limit else ids
    maps, lrs = _uncertainty_inputs(uncertainty_dir, ref_dir, ids) if uncertainty_dir else (None, None)
    lpips_fn = None
    if lpips:
        from zoo.evaluate.metrics import lpips as lpips_value
        from zoo.evaluate.metrics import lpips_metric

        metric = lpips_metric()

        def lpips_fn(p: np.ndarray, r: np.ndarray) -> float:
            return lpips_value(p, r, metric)

    records: list[dict[str, Any]] = []
    examples: list[dict[str, Any]] = []
    profiles_pred, profiles_ref, shapes = [], [], set()
    for ident in tqdm(ids, desc="eval", unit="img", disable=None if progress else True):
        pred = read_image(preds.paths[ident])
        hr = read_image(refs.paths[ident])
        ref = reference_fn(hr) if reference_fn else hr
        if pred.shape != ref.shape:
            raise ValueError(f"{preds.paths[ident]}: size {pred.shape} differs from its reference {ref.shape} "
                             f"(id {ident!r})")
        shapes.add(pred.shape)
        record: dict[str, Any] = {"id": ident}
        if ident in refs.subjects:
            record["subject"] = refs.subjects[ident]
        record.update(image_metrics(pred, ref))
        if lpips_fn is not None:
            record["lpips"] = lpips_fn(pred, ref)
        if masks is not None:
            mask = read_image(masks.paths[ident])
            record["roi_psnr"] = masked_psnr(pred, ref, mask)
            record["roi_ssim"] = masked_ssim(pred, ref, mask)
        if floors is not None or tau is not None:
            t = hal.noise_floor(read_image(floors.paths[ident]), ref) if floors is not None else float(tau)
            record["tau"] = t
            record.update(hal.hallucination(pred, ref, t))
        if maps is not None:
            from zoo.evaluate.uncertainty import map_record

            lr = read_image(lrs.paths[ident]) if lrs is not None and ident in lrs.paths else None
            record.update(map_record(pred, ref, read_image(maps[ident]), lr))
        profiles_pred.append(radial_profile(pred))
        profiles_ref.append(radial_profile(ref))
        records.append(record)
        if len(examples) < n_examples:
            examples.append({"id": ident, "pred": pred, "ref": ref})
    return {
        "n": len(records),
        "pred_dir": str(preds.root),
        "ref_dir": str(refs.root),
        "pairing": {"pred": preds.source, "ref": refs.source, "by": "id", "split": split},
        "summary": _summary(records),
        "bands": band_names(),
        "intensity_bland_altman": bland_altman([r["mean_pred"] for r in records], [r["mean_ref"] for r in records])
        if len(records) > 1 else None,
        "spectrum": {
            "pred": np.mean(profiles_pred, axis=0).tolist(),
            "ref": np.mean(profiles_ref, axis=0).tolist(),
            "error": np.mean(np.array(profiles_pred) - np.array(profiles_ref), axis=0).tolist(),
        },
        "notes": _notes(shapes, lpips_fn is not None),
        "per_image": records,
        "examples": examples,
    }


def _uncertainty_inputs(folder: str | Path, ref_dir: str | Path, ids: list[str]) -> tuple[dict[str, Path], Any]:
    """The maps by id (every id must have one) and the reference folder's LR images where it lists them."""
    from zoo.evaluate.pairing import PairingError
    from zoo.evaluate.uncertainty import map_files

    maps = map_files(folder)
    missing = [i for i in ids if i not in maps]
    if missing:
        raise PairingError(f"--uncertainty {folder}: no map {missing[0]}.uncertainty.* for id {missing[0]!r} "
                           f"({len(missing)} missing)")
    try:
        lrs = image_set(ref_dir, ("lr",))
    except PairingError:
        lrs = None
    return maps, (lrs if lrs is not None and lrs.source == "manifest.csv:lr" else None)


def _notes(shapes: set[tuple[int, ...]], lpips_done: bool) -> list[str]:
    notes = ["PSNR/SSIM/MS-SSIM use data range 1; images are mapped to [0,1] by their dtype's range.",
             "Dataset values are arithmetic means of per-image values; std is ddof=0.",
             "SSIM is scikit-image's default (7x7 uniform window); MS-SSIM is torchmetrics' (Gaussian 11, sigma 1.5)."]
    for h, w in sorted(shapes):
        scales = ms_ssim_scales(h, w)
        if scales < 2:
            notes.append(f"MS-SSIM is NaN for {h}x{w} images (too small for 2 scales).")
        elif scales < 5:
            notes.append(f"MS-SSIM on {h}x{w} images uses {scales} scales (5 need H,W > 160); betas renormalised; "
                         "not comparable with the paper's 5-scale values.")
    if not lpips_done:
        notes.append("LPIPS not computed (pass --lpips; needs torchvision and local AlexNet weights).")
    return notes
