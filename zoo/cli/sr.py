"""``zoo sr``: super-resolve image files (PNG/JPEG/TIFF/DICOM/NIfTI/npy) with a saved pipeline."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import click

_GLOB_CHARS = set("*?[")


def prepared_lr_files(folder: Path, split: str) -> list[Path]:
    """The LR images of a prepared folder (``zoo prepare`` output), optionally one split, in manifest order."""
    from zoo.data.manifest import filter_split, read_manifest

    return [folder / r.lr for r in filter_split(read_manifest(folder), split)]


def expand_inputs(inputs: tuple[str, ...], split: str = "all") -> tuple[list[Path], list[tuple[str, str]]]:
    """(files, errors): folders are searched recursively for supported files, globs are expanded; a
    prepared folder (with manifest.csv) contributes its LR images of ``split``."""
    from zoo.data.errors import DataError
    from zoo.data.prepare import collect_files

    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    for item in inputs:
        if not os.path.exists(item) and _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                errors.append((item, "no file matches this pattern"))
            sources = matches
        else:
            sources = [item]
        for src in sources:
            try:
                if (Path(src) / "manifest.csv").is_file() and (Path(src) / "prepare.json").is_file():
                    files.extend(prepared_lr_files(Path(src), split))
                else:
                    files.extend(collect_files([src]))
            except DataError as err:
                errors.append((err.path or src, err.reason))
    return list(dict.fromkeys(files)), errors


def unique_ids(files: list[Path]) -> list[str]:
    """A file-name-safe id per file (its stem; repeated stems get -2, -3, ...)."""
    from zoo.data.formats import stem
    from zoo.data.manifest import safe_id

    seen: dict[str, int] = {}
    out = []
    for path in files:
        base = safe_id(stem(path))
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def super_resolve_file(pipe: Any, path: Path, out_path_stem: Path, batch_size: int, seed: int,
                       sampler: str | None, steps: int | None) -> Path:
    """Read ``path``, super-resolve every slice (slice ``i`` uses seed ``seed + i``), write it in the input's format."""
    import numpy as np

    from zoo.data.formats import SUFFIX
    from zoo.data.readers import read_image
    from zoo.data.writers import write_like

    image = read_image(path)
    slices = [image.slice(i) for i in range(image.num_slices)]
    outputs: list[np.ndarray] = []
    for start in range(0, len(slices), batch_size):
        chunk = slices[start : start + batch_size]
        seeds = [seed + start + j for j in range(len(chunk))]
        outputs += pipe(chunk, seed=seeds, steps=steps, sampler=sampler, progress=False)
    array = np.stack(outputs) if image.is_volume else outputs[0]
    target = out_path_stem.with_name(out_path_stem.name + SUFFIX[image.format])
    return write_like(target, array, image)


def _merge_manifests(out: Path, parts: list[Path]) -> None:
    import csv
    import io

    from zoo.atomic import write_text

    rows: list[list[str]] = []
    for part in parts:
        if part.exists():
            with part.open(newline="") as fh:
                rows += list(csv.reader(fh))
            part.unlink()
    rows.sort(key=lambda r: r[0])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "input", "output"])
    writer.writerows(rows)
    write_text(out / "manifest.csv", buf.getvalue())


@click.command("sr")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--pipeline", "pipeline_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Saved pipeline folder (from `zoo train`); default: the embedded default pipeline.")
@click.option("--sampler", default=None, help="Sampler name (default: the pipeline's), e.g. ddim, dpmpp-2m, cold.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Sampler steps (default: the pipeline's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed; slice i of a file uses seed + i.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Slices per call.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--backend", default=None,
              help="Runtime: torch (default for a saved pipeline), onnxruntime, openvino (fast on CPUs with bf16; "
                   "see `zoo list --kind backend`). An export folder defaults to the backend that wrote it.")
@click.option("--split", default="all", show_default=True, type=click.Choice(["all", "train", "val", "test"]),
              help="For a prepared folder (zoo prepare) given as INPUT: super-resolve the LR images of this split.")
def sr_cmd(inputs: tuple[str, ...], out_dir: str, pipeline_dir: str | None, sampler: str | None, steps: int | None,
           seed: int, batch_size: int, device: str | None, backend: str | None, split: str) -> None:
    """Super-resolve files, folders or globs; each output is written in its input's format.

    \b
    A prepared folder (from `zoo prepare`) contributes its LR images (--split picks one split).
    NIfTI volumes are super-resolved slice by slice (affine kept, spacing updated); DICOM keeps its
    tags with the new size and pixel spacing. OUT/manifest.csv lists id,input,output. A file that
    cannot be used is reported as one line (zoo: error: FILE: REASON) and skipped; the others
    complete and the exit code is 2. Several GPUs:
      accelerate launch --num_processes 4 -m zoo sr scans/ --out sr/

    \b
    Examples:
      zoo sr scan.dcm --out sr/
      zoo sr 'data/**/*.nii.gz' lr_pngs/ --out sr/ --pipeline runs/medvae/pipeline --steps 10
      zoo sr data/brats --split val --out sr/brats   # a prepared folder: its val LR images
      zoo sr lr_pngs/ --out sr/ --backend openvino    # OpenVINO (bf16 where the CPU has it)
    """
    from accelerate import PartialState
    from tqdm.auto import tqdm

    from zoo.assets import DEFAULT_PIPELINE_DIR
    from zoo.cli.output import fail
    from zoo.data.errors import DataError
    from zoo.pipeline import load_pipeline

    state = PartialState(cpu=device == "cpu")
    out = Path(out_dir)
    files, errors = expand_inputs(inputs, split)
    ids = unique_ids(files)
    folder = Path(pipeline_dir) if pipeline_dir else DEFAULT_PIPELINE_DIR
    if not files:
        for item, reason in errors:
            click.echo(f"zoo: error: {item}: {reason}", err=True)
        fail("no input file could be used; nothing written")
    try:
        pipe = load_pipeline(folder, device=device or str(state.device), backend=backend)
    except (OSError, ValueError, RuntimeError, LookupError, ImportError) as err:
        fail(f"{folder}: cannot load the pipeline: {err}")
    if state.is_main_process:
        for item, reason in errors:
            click.echo(f"zoo: error: {item}: {reason}", err=True)
    out.mkdir(parents=True, exist_ok=True)
    part = out / f".manifest.{state.process_index}.csv"
    failed = len(errors) if state.is_main_process else 0
    rows: list[list[str]] = []
    with state.split_between_processes(list(zip(ids, files, strict=True))) as mine:
        for ident, path in tqdm(mine, desc="sr", unit="file", disable=None if state.is_main_process else True):
            try:
                written = super_resolve_file(pipe, path, out / ident, batch_size, seed, sampler, steps)
            except (DataError, ValueError, OSError, RuntimeError) as err:
                reason = err.reason if isinstance(err, DataError) and err.path == str(path) else str(err)
                click.echo(f"zoo: error: {path}: {' '.join(reason.split())}", err=True)
                failed += 1
                continue
            rows.append([ident, str(path), written.name])
    part.write_text("".join(",".join(_csv_cell(c) for c in r) + "\n" for r in rows))
    state.wait_for_everyone()
    if state.is_main_process:
        _merge_manifests(out, [out / f".manifest.{i}.csv" for i in range(state.num_processes)])
        click.echo(f"zoo: wrote {len(rows) if state.num_processes == 1 else 'all'} file(s) and manifest.csv to {out}")
    if failed:
        raise SystemExit(2)


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value
