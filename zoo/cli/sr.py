"""``zoo sr``: super-resolve image files (PNG/JPEG/TIFF/DICOM/NIfTI/npy) with a saved pipeline.

The file logic lives in :mod:`zoo.data.sr_files`; this module parses options and prints.
"""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli.options import device_option, out_option, pipeline_option
from zoo.data.sr_files import expand_inputs, prepared_lr_files, unique_ids

__all__ = ["expand_inputs", "prepared_lr_files", "sr_cmd", "unique_ids"]


def _tile(value: str) -> int | str:
    from zoo.cli.output import fail

    value = value.strip().lower()
    if value in ("auto", "off"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    fail(f"--tile {value!r}: use auto, off, or an HR tile side in pixels (e.g. 512)")


def _axis(value: str) -> int | str:
    """``--axis``: auto or a voxel axis 0/1/2; anything else is one line, exit 2."""
    from zoo.cli.output import fail
    from zoo.data.slices import parse_slice_axis

    try:
        return parse_slice_axis(value)
    except ValueError:
        fail(f"--axis {value!r}: use auto, 0, 1 or 2 (the NIfTI voxel axis to slice along)")


def _sampler(name: str | None):
    """The ``--sampler`` asked for, built once before any file (an unknown name is one line, exit 2)."""
    from zoo.cli.output import fail
    from zoo.errors import ZooError
    from zoo.factory import build_sampler

    if name is None:
        return None
    try:
        return build_sampler(name)
    except ZooError as err:
        fail(f"--sampler {name!r}: {err}")


def _check_outputs(jobs, out: Path, inputs: tuple[str, ...], overwrite: bool, resume: bool, uncertainty: bool) -> None:
    """:func:`zoo.data.sr_files.check_outputs` (the maps too with ``uncertainty``) as one line, exit 2."""
    from zoo.cli.output import fail
    from zoo.data.sr_files import OutputGuardError, check_outputs

    try:
        check_outputs(jobs, out, inputs, overwrite=overwrite, resume=resume, uncertainty=uncertainty)
    except OutputGuardError as err:
        fail(f"{err}; nothing written")


def _check_uncertainty(pipe, self_ensemble: str | None, samples: int) -> None:
    """--uncertainty with nothing to measure a spread over: one line naming the options, before any work."""
    from zoo.cli.output import fail
    from zoo.ops.uncertainty import UncertaintyError, check_estimable

    count = int(self_ensemble) if self_ensemble is not None else int(pipe.options.self_ensemble)
    try:
        check_estimable(count, samples)
    except UncertaintyError:
        fail(f"--uncertainty needs --self-ensemble 2, 4 or 8 or --uncertainty-samples 2 or more (this run has "
             f"self-ensemble {count} and {samples} sample); nothing written")


@click.command("sr")
@click.argument("inputs", nargs=-1, required=True)
@out_option("Output folder (not inside an input folder).", name="out_dir", required=True)
@pipeline_option("Saved pipeline folder (from `zoo train`) or export folder; default: the embedded default.",
                 default=None)
@click.option("--sampler", default=None, help="Sampler name (default: the pipeline's), e.g. ddim, dpmpp-2m, cold.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Sampler steps (default: the pipeline's).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed; every slice of a volume uses it (neighbouring slices get the same noise).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Slices per call (fewer for large slices, to bound memory).")
@click.option("--tile", default="auto", show_default=True,
              help="Tiled SR for large images: auto (tile images larger than one tile: 512 HR pixels for a "
                   "local denoiser like the embedded default's, whose tiles equal the whole-image result; "
                   "else the size the pipeline was trained on), off (whole image at once: memory grows with "
                   "the image), or N (HR tile side in pixels, a multiple of the autoencoder's factor). Tiles "
                   "overlap and are blended; the noise is drawn once per image.")
@click.option("--self-ensemble", type=click.Choice(["1", "2", "4", "8"]), default=None,
              help="Flips/rotations of each image whose SRs are combined where they agree, falling back to "
                   "bicubic where they do not (default: the pipeline's; the embedded default uses 8). "
                   "1 is the fastest (one run per image); more is slower and safer.")
@click.option("--uncertainty", is_flag=True,
              help="Also write each output's uncertainty map, OUT/NAME.uncertainty.EXT: the expected absolute "
                   "error of every pixel in the output's format and value scale (PNG/TIFF: grey levels of the "
                   "output; NIfTI: float32; DICOM: its own derived series). Needs --self-ensemble 2, 4 or 8 "
                   "(the embedded default's 8) or --uncertainty-samples 2 or more. See docs/uncertainty.md.")
@click.option("--uncertainty-samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --uncertainty: seeds whose spread the map adds (each one more SR run; for stochastic "
                   "samplers). The output stays that of --seed.")
@click.option("--axis", default="auto", show_default=True, metavar="[auto|0|1|2]",
              help="NIfTI slice axis, in the file's voxel order: auto super-resolves the acquisition plane "
                   "(the two finest voxel axes; the axis with the largest voxel size, ties the last, is kept), "
                   "0/1/2 picks the slice axis. Other formats are always sliced along their first axis.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run into the same --out: outputs already complete (recorded in "
                   "manifest.csv with their sha256, or readable with the expected shape) are skipped, the "
                   "rest is done.")
@click.option("--overwrite", is_flag=True,
              help="Replace existing outputs and manifest.csv in --out (never an input file).")
@device_option()
@click.option("--backend", default=None,
              help="Runtime: auto (the default for a saved pipeline: on the CPU the first installed of openvino "
                   "and onnxruntime whose export passed validation against torch on this machine, else torch; "
                   "-v says which and why), torch (forces PyTorch eager), onnxruntime, openvino (see `zoo list "
                   "--kind backend`). An export folder defaults to the backend that wrote it.")
@click.option("--split", default="all", show_default=True, type=click.Choice(["all", "train", "val", "test"]),
              help="For a prepared folder (zoo prepare) given as INPUT: super-resolve the LR images of this split.")
def sr_cmd(inputs: tuple[str, ...], out_dir: str, pipeline_dir: str | None, sampler: str | None, steps: int | None,
           seed: int, batch_size: int, tile: str, self_ensemble: str | None, uncertainty: bool,
           uncertainty_samples: int, axis: str, resume: bool, overwrite: bool, device: str, backend: str | None,
           split: str) -> None:
    """Super-resolve files, folders or globs; each output is written in its input's format.

    \b
    A prepared folder (from `zoo prepare`) contributes its LR images (--split picks one split).
    Other folders are searched recursively: supported extensions, and DICOM by content whatever
    the name (IM0001); a DICOMDIR is left out, other files are skipped with one warning line.
    NIfTI volumes (3D and 4D) are super-resolved slice by slice in their acquisition plane (--axis),
    every frame, with one intensity mapping per volume; the voxel order is kept, the sform/qform are
    scaled to the new grid over the same extent (codes kept). A multi-frame DICOM keeps all its frames.
    DICOM outputs form a derived series (new Series/SOP Instance UIDs, ImageType DERIVED\\SECONDARY,
    SourceImageSequence to the input), so a viewer shows it beside the original.
    Large images are tiled (--tile): memory stays bounded and time grows with the pixels.
    OUT/manifest.csv lists id,input,output,sha256 and is rewritten atomically as files complete.
    --uncertainty adds OUT/NAME.uncertainty.EXT beside each output (columns uncertainty,
    uncertainty_sha256 in manifest.csv; --resume and --overwrite treat it like the output).

    \b
    Safety: an input is never written over (--out inside an input folder is refused); existing
    outputs or manifest.csv are kept unless --overwrite (--resume skips the complete ones);
    --out is checked for writing and locked against a second run before any work. Options are
    checked before any file: a bad one is one line, exit 2, nothing written. A file that cannot be
    used (unreadable, unsupported, too large, out of memory) is reported as one line (zoo: error:
    FILE: REASON) and skipped; the others complete, manifest.csv is written (none if no file
    was), and the exit code is 2. An unexpected error inside zoo is a bug: the batch stops with its
    traceback and exit code 1. Several GPUs or processes:
      accelerate launch --num_processes 4 -m zoo sr scans/ --out sr/

    \b
    Examples:
      zoo sr scan.dcm --out sr/
      zoo sr 'data/**/*.nii.gz' lr_pngs/ --out sr/ --pipeline runs/medvae/pipeline --steps 10
      zoo sr big_radiographs/ --out sr/ --tile 512
      zoo sr big_radiographs/ --out sr/ --self-ensemble 1   # 8x faster, no agreement gate
      zoo sr scans/ --out sr/ --resume               # after an interruption: only what is missing
      zoo sr sagittal.nii.gz --out sr/ --axis 0      # slice along voxel axis 0 whatever the spacing
      zoo sr data/brats --split val --out sr/brats   # a prepared folder: its val LR images
      zoo sr lr_pngs/ --out sr/ --backend openvino    # OpenVINO (bf16 where the CPU has it)
      zoo sr scan.dcm --out sr/ --uncertainty        # + sr/scan.uncertainty.dcm, expected error per pixel
    """
    from tqdm.auto import tqdm

    from zoo.assets import DEFAULT_PIPELINE_DIR
    from zoo.cli.output import fail
    from zoo.data.sr_files import SROptions, merge_manifest, plan_jobs, run_jobs
    from zoo.errors import ZooError
    from zoo.folders.guard import lock_output
    from zoo.pipeline.build import load_pipeline
    from zoo.pipeline.hub import is_hub_spec
    from zoo.utils.console import show_progress
    from zoo.utils.devices import AUTO, resolve_device
    from zoo.utils.launch import process_state

    tile_value = _tile(tile)
    axis_value = _axis(axis)
    if resume and overwrite:
        fail("--resume and --overwrite exclude each other: --resume keeps complete outputs, --overwrite replaces them")
    sampler_obj = _sampler(sampler)
    # auto under `accelerate launch`: each process on its own GPU (Accelerate's choice), else resolve_device's
    state = process_state(cpu=device == "cpu")
    device = str(state.device) if device == AUTO and state.num_processes > 1 else resolve_device(device)
    out = Path(out_dir)
    jobs, errors = plan_jobs(inputs, out, split)
    if not jobs:
        for item, reason in errors:
            click.echo(f"zoo: error: {item}: {reason}", err=True)
        fail("no input file could be used; nothing written")
    _check_outputs(jobs, out, inputs, overwrite, resume, uncertainty)
    folder = pipeline_dir if is_hub_spec(pipeline_dir) else Path(pipeline_dir) if pipeline_dir else DEFAULT_PIPELINE_DIR
    try:
        pipe = load_pipeline(folder, device=device, backend=backend)
    except (ZooError, OSError, ValueError, RuntimeError, LookupError, ImportError) as err:
        fail(f"{folder}: cannot load the pipeline: {err}")
    try:  # a tile size the pipeline cannot use fails here, once, not on every file
        pipe.tile_plan((1 << 16, 1 << 16), None if tile_value == "auto" else tile_value)
    except ZooError as err:
        fail(f"--tile {tile}: {err}")
    if uncertainty:
        _check_uncertainty(pipe, self_ensemble, uncertainty_samples)
    if state.is_main_process:  # every option is checked: lock --out (created now), then check it under the lock
        lock_output(out)
        _check_outputs(jobs, out, inputs, overwrite, resume, uncertainty)
    state.wait_for_everyone()  # no process writes before every process has checked --out
    if state.is_main_process:
        for item, reason in errors:
            click.echo(f"zoo: error: {item}: {reason}", err=True)
    options = SROptions(seed=seed, steps=steps, sampler=sampler_obj, batch_size=batch_size,
                        tile=None if tile_value == "auto" else tile_value,
                        self_ensemble=None if self_ensemble is None else int(self_ensemble),
                        pipeline_id=str(pipeline_dir or "zoo-default"), axis=axis_value,
                        progress=state.is_main_process and show_progress(),
                        uncertainty=uncertainty, uncertainty_samples=uncertainty_samples)

    def report(path: str, reason: str) -> None:
        click.echo(f"zoo: error: {path}: {reason}", err=True)

    def bar(items):
        return tqdm(items, desc="sr", unit="file", disable=not (state.is_main_process and show_progress()))

    result = run_jobs(pipe, jobs, out, options, resume=resume, rank=state.process_index,
                      world=state.num_processes, on_error=report, progress=bar)
    state.wait_for_everyone()
    if state.is_main_process:
        if state.num_processes > 1:
            merge_manifest(out, jobs, state.num_processes)
        if not (out / "manifest.csv").exists():
            fail("no file could be super-resolved; nothing written (no manifest.csv)")
        skipped = f", skipped {len(result.skipped)} complete" if resume and state.num_processes == 1 else ""
        written = len(result.written) if state.num_processes == 1 else "all"
        click.echo(f"zoo: wrote {written} file(s){skipped} and manifest.csv to {out}")
    if errors or result.failed:
        raise SystemExit(2)
