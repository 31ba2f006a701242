"""``zoo prepare`` and ``zoo encode``: build HR/LR pairs and their latent caches."""

from __future__ import annotations

import json

import click

from zoo.cli.options import device_option, out_option
from zoo.cli.output import fail, print_table


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise click.BadParameter(f"expected three comma-separated fractions like 0.8,0.1,0.1, got {text!r}")
    return parts  # type: ignore[return-value]


def _assign(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        subject, sep, split = item.rpartition("=")
        if not sep or not subject:
            raise click.BadParameter(f"expected SUBJECT=SPLIT, got {item!r}")
        out[subject] = split
    return out


@click.command("prepare")
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@out_option("Output folder.", required=True)
@click.option("--scale", default=4, show_default=True, help="SR factor: LR size = size / scale.")
@click.option("--size", default=256, show_default=True, help="HR size (square crop resized with PIL LANCZOS).")
@click.option("--degradation", default="lanczos", show_default=True,
              help="LR synthesis: lanczos (paper BraTS/CXR), bicubic (paper MRNet), kspace, blur-noise.")
@click.option("--slices", "slice_rule", type=click.Choice(["middle", "all", "brats"]), default="middle",
              show_default=True, help="Volume slices: middle, all, or the paper's BraTS rule.")
@click.option("--n-slices", default=20, show_default=True, help="Slices per volume for --slices brats.")
@click.option("--slice-seed", default=42, show_default=True, help="Seed of the BraTS slice sampling.")
@click.option("--axis", type=click.Choice(["axial", "coronal", "sagittal"]), default="axial", show_default=True,
              help="NIfTI slicing axis (canonical RAS+ orientation).")
@click.option("--frame", default=0, show_default=True, help="Volume of a 4D NIfTI.")
@click.option("--subject-from", type=click.Choice(["auto", "file", "parent"]), default="auto", show_default=True,
              help="Subject id: auto (DICOM PatientID, else file name), file name, or parent folder name.")
@click.option("--splits", default="0.8,0.1,0.1", show_default=True, help="train,val,test fractions of subjects.")
@click.option("--split-seed", default=42, show_default=True, help="Seed of the subject shuffle.")
@click.option("--assign", multiple=True, metavar="SUBJECT=SPLIT", help="Put a subject in a fixed split (repeatable).")
@click.option("--seed", default=0, show_default=True, help="Seed of random degradations (noise), per id.")
@click.option("--paper-uint8", is_flag=True,
              help="Reproduce the paper's 8-bit path exactly (uint8 truncation, PIL 'L' resize, 8-bit PNG).")
@click.option("--skip-bad", is_flag=True, help="Skip unreadable files (listed in prepare.json) instead of failing.")
@click.option("--overwrite", is_flag=True,
              help="Write into an existing non-empty --out, replacing only hr/, lr/, manifest.csv and prepare.json.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def prepare_cmd(sources, out, scale, size, degradation, slice_rule, n_slices, slice_seed, axis, frame, subject_from,
                splits, split_seed, assign, seed, paper_uint8, skip_bad, overwrite, as_json) -> None:
    """Make HR/LR training pairs from PNG/JPEG/TIFF/DICOM/NIfTI/.npy files or folders.

    A folder is searched recursively: supported extensions, and DICOM by content whatever the name
    (IM0001); a DICOMDIR is left out, other files are skipped with one warning line.

    Writes OUT/hr/<id>.png and OUT/lr/<id>.png (16-bit, per-slice [0,1]), OUT/manifest.csv
    (id,source,slice,subject,split,hr,lr + original range) and OUT/prepare.json. Splits are by subject:
    no subject is in two splits. Nothing is written if any file fails (unless --skip-bad). OUT must be
    a new or empty folder and never a source (or pass --overwrite).

    \b
    Example:
      zoo prepare scans/ --out data/brats --scale 4 --size 256 --slices brats --subject-from parent
    """
    from zoo.data.errors import DataError
    from zoo.data.prepare import PrepareConfig, prepare
    from zoo.utils.console import show_progress

    try:
        config = PrepareConfig(scale=scale, size=size, degradation=degradation, slices=slice_rule, n_slices=n_slices,
                               slice_seed=slice_seed, axis=axis, frame=frame, subject_from=subject_from,
                               split_seed=split_seed, fractions=_fractions(splits), assign=_assign(assign), seed=seed,
                               paper_uint8=paper_uint8)
        summary = prepare(list(sources), out, config, skip_bad=skip_bad, overwrite=overwrite,
                          progress=show_progress())
    except DataError as err:
        fail(str(err))
    except (ValueError, click.BadParameter) as err:
        fail(str(err) if not isinstance(err, click.BadParameter) else err.format_message())
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    rows = [[s, summary["counts"][s], len(summary["subjects"][s])] for s in ("train", "val", "test")]
    print_table(["split", "pairs", "subjects"], rows)
    for item in summary["skipped"]:
        click.echo(f"skipped {item['file']}: {item['reason']}", err=True)
    click.echo(f"wrote {out} (HR {summary['hr_size']}, LR {summary['lr_size']}, {summary['degradation']['name']})")


def _overrides(values: tuple[str, ...]) -> dict:
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE (VALUE as JSON), got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@click.command("encode")
@click.option("--data", "data", required=True, type=click.Path(exists=True, file_okay=False),
              help="Prepared folder (from `zoo prepare`).")
@click.option("--vae", required=True, help="Autoencoder name (see `zoo list -k autoencoder`) or saved folder.")
@out_option("Latent cache folder.", required=True)
@click.option("--weights", type=click.Path(), help="Weights file or folder (overrides the card's default).")
@click.option("--untrained", is_flag=True,
              help="Random weights (torch seed 0; tests, latency); recorded as 'untrained'.")
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Architecture override passed to the factory (VALUE as JSON), e.g. block_out_channels=[8,8,8].")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@device_option()
@click.option("--overwrite", is_flag=True,
              help="Start over if the cache was made with other settings, or write into a non-empty --out that is "
                   "not a cache; only cache.json, manifest.csv and shards/ are replaced.")
@click.option("--json", "as_json", is_flag=True, help="Print cache.json as JSON.")
def encode_cmd(data, vae, out, weights, untrained, overrides, batch_size, device, overwrite, as_json) -> None:
    """Encode a prepared folder into latents (safetensors shards keyed by id; resumable).

    HR is encoded at full size, LR at its native size, and the bicubic-upsampled LR at HR size
    (keys <id>/hr, <id>/lr, <id>/lr_up). A killed run continues where it stopped. cache.json records the
    VAE, the weights' sha256, the preprocessing and per-channel latent mean/std of the train split.

    \b
    Example:
      zoo encode --data data/brats --vae medvae-4-3 --weights vae_4x_3c_2D.ckpt --out cache/brats-medvae
    """
    from zoo.data.errors import DataError

    if weights and untrained:
        fail("--weights and --untrained exclude each other")
    from zoo.data.encode import CACHE_FILES
    from zoo.folders.guard import prepare_output
    from zoo.utils.console import show_progress
    from zoo.utils.devices import resolve_device

    device = resolve_device(device)
    prepare_output(out, inputs=[data, weights], overwrite=overwrite, will_write=CACHE_FILES, allow=CACHE_FILES)
    try:
        import torch

        import zoo
        from zoo.data.encode import encode_dataset, weights_fingerprint

        arch = _overrides(overrides)
        if untrained:
            torch.manual_seed(0)  # the same random weights on every run, so an interrupted cache resumes consistently
        model = zoo.build_autoencoder(vae, weights=weights, pretrained=not untrained, **arch)
        sha = weights_fingerprint(weights, untrained)
        if sha is None and getattr(model, "card", None) is not None:
            sha = model.card.sha256
        info = encode_dataset(data, out, model, vae_name=vae, weights=weights, weights_sha256=sha,
                              batch_size=batch_size, device=device, overwrite=overwrite,
                              progress=show_progress(), vae_overrides=arch)
    except DataError as err:
        fail(str(err))
    except click.BadParameter as err:
        fail(err.format_message())
    except (ValueError, OSError, RuntimeError) as err:
        fail(f"{vae}: {err}".splitlines()[0])
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    stats = info.get("stats", {}).get("hr", {})
    rows = [[k, ", ".join(f"{v:.3g}" for v in stats.get(k, []))] for k in ("mean", "std")]
    print_table(["HR latent (train)", "per channel"], rows)
    click.echo(f"wrote {out}: {info['count']} ids in {info['shards']} shard(s), VAE {info['vae']} "
               f"(weights sha256 {info['weights_sha256']})")
