"""`zoo eval`: score SR outputs against references (paired by id) and compare two runs."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli.options import device_option, out_option
from zoo.cli.output import fail, print_table

_EVAL_ERRORS = (ValueError, FileNotFoundError, LookupError, RuntimeError, OSError)


@click.group("eval", invoke_without_command=True, context_settings={"max_content_width": 100})
@click.option("--pred", type=click.Path(path_type=Path),
              help="SR outputs (folder; ids from manifest.csv or file stems).")
@click.option("--ref", type=click.Path(path_type=Path), help="HR references (prepared dataset folder or images).")
@out_option("Report folder to write (report.json, report.md, per_image.csv, figures/); must be new or empty.",
            type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True,
              help="Write into an existing --out, replacing only the report's own files (never an input).")
@click.option("--split", type=click.Choice(["auto", "all", "train", "val", "test"]), default="auto",
              show_default=True,
              help="For a prepared --ref folder: score only this split's images. auto: the split whose ids "
                   "are exactly the predictions' (as `zoo sr DATA --split S` writes), else all.")
@click.option("--protocol", type=click.Choice(["true-hr", "self-referential"]), default="true-hr", show_default=True,
              help="true-hr: score against the HR images (paper v2); self-referential: against "
                   "decode(encode(HR)) through --vae (paper v1).")
@click.option("--vae",
              help="Autoencoder of these SR outputs (required for self-referential; recorded for `zoo screen`).")
@click.option("--weights", help="Weights for --vae (file/folder or hf:owner/repo).")
@click.option("--untrained", is_flag=True, help="Random weights for --vae (tests only).")
@device_option()
@click.option("--mask", "mask_dir", type=click.Path(path_type=Path),
              help="Masks by id (e.g. tumour): adds ROI PSNR/SSIM.")
@click.option("--noise-floor", "floor_dir", type=click.Path(path_type=Path),
              help="AE reconstructions by id: per-image hallucination threshold tau = mean + 2 std of |AE-HR|.")
@click.option("--tau", type=float, help="Fixed, VAE-independent hallucination threshold instead of --noise-floor.")
@click.option("--lpips", is_flag=True, help="Also LPIPS-alex (needs torchvision and local AlexNet weights).")
@click.option("--uncertainty", "uncertainty_dir", type=click.Path(path_type=Path),
              help="Folder of uncertainty maps ID.uncertainty.EXT (zoo sr --uncertainty): per image the ratio "
                   "mean(map)/mean(|pred - ref|), Spearman, error lift of the top 10 % map pixels and (with a "
                   "prepared --ref listing the LR) the AUROC for pixels worse than bicubic by > 1/255.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N ids (sorted).")
@click.option("--no-figures", is_flag=True, help="Skip the PNG figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def eval_cmd(ctx: click.Context, pred, ref, out, overwrite, split, protocol, vae, weights, untrained, device, mask_dir,
             floor_dir, tau, lpips, uncertainty_dir, limit, no_figures, as_json) -> None:
    """Evaluate SR outputs with the paper's metrics, pairing files strictly by id.

    \b
    Examples:
      zoo eval --pred sr_out --ref data/valid --out reports/medvae --vae medvae-4-3
      zoo eval --pred sr/mine --ref data/mine --split test --out reports/mine
      zoo eval --pred sr_out --ref data/valid --out reports/v1 --protocol self-referential \\
               --vae medvae-4-3 --weights vae.safetensors
      zoo eval compare reports/medvae reports/sdvae --by subject

    Images are mapped to [0,1] by their dtype's range (uint8 /255, uint16 /65535); colour images
    are averaged over channels. --out must be a new or empty folder, never --pred or --ref (or pass
    --overwrite: only report.json, report.md, per_image.csv and figures/ are replaced).
    """
    if ctx.invoked_subcommand is not None:
        return
    if pred is None or ref is None or out is None:
        fail("zoo eval needs --pred DIR --ref DIR --out REPORT (or a subcommand: zoo eval compare RUN_A RUN_B)")
    if protocol == "self-referential" and not vae:
        fail("--protocol self-referential needs --vae NAME (and --weights PATH or --untrained)")
    if tau is not None and floor_dir is not None:
        fail("give either --tau or --noise-floor, not both")
    import json

    from zoo.evaluate.evaluation import evaluate_folders
    from zoo.evaluate.report import EVAL_REPORT_FILES, to_jsonable, write_eval_report
    from zoo.folders.guard import prepare_output
    from zoo.utils.console import show_progress

    prepare_output(out, inputs=[pred, ref, mask_dir, floor_dir, weights, uncertainty_dir], overwrite=overwrite,
                   will_write=EVAL_REPORT_FILES)
    try:
        reference_fn = None
        if protocol == "self-referential":
            reference_fn = _self_reference(vae, weights, untrained, device)
        result = evaluate_folders(pred, ref, reference_fn=reference_fn, mask_dir=mask_dir, floor_dir=floor_dir,
                                  tau=tau, limit=limit, split=split, lpips=lpips, uncertainty_dir=uncertainty_dir,
                                  progress=not as_json and show_progress())
        result = {"protocol": protocol, "vae": vae, "weights": weights, "untrained": untrained, **result}
        write_eval_report(result, out, figures=not no_figures)
    except _EVAL_ERRORS as err:
        fail(str(err))
    summary = result["summary"]
    if as_json:
        click.echo(json.dumps(to_jsonable({"out": str(out), "n": result["n"], "protocol": protocol, "vae": vae,
                                           "summary": summary, "notes": result["notes"]}), indent=2))
        return
    keys = [k for k in ("psnr", "ssim", "ms_ssim", "lpips", "roi_psnr", "roi_ssim", "hallu_rate", "loss_rate",
                        "unc_ratio", "unc_spearman", "unc_lift", "unc_auroc") if k in summary]
    print_table(["metric", "mean", "std", "n"],
                [[k, f"{summary[k]['mean']:.4f}", f"{summary[k]['std']:.4f}", summary[k]["n"]] for k in keys])
    click.echo(f"{result['n']} pairs ({protocol}); report written to {out}")


def _self_reference(vae: str, weights: str | None, untrained: bool, device: str):
    """decode(encode(HR)) through the named autoencoder, as a function of one [0,1] image."""
    if not weights and not untrained:
        fail("--protocol self-referential needs --weights PATH (or --untrained for random weights)")
    from zoo.evaluate.reconstruct import load_autoencoder, round_trip
    from zoo.utils.devices import resolve_device

    device = resolve_device(device)
    ae = load_autoencoder(vae, weights=weights, untrained=untrained, device=device)

    def reference(hr):
        return round_trip(ae, hr[None], device).recon[0]

    return reference


@eval_cmd.command("compare")
@click.argument("run_a", type=click.Path(exists=True, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, path_type=Path))
@click.option("--metric", default="psnr", show_default=True, help="Per-image metric to compare.")
@click.option("--by", type=click.Choice(["image", "subject"]), default="image", show_default=True,
              help="Unit of analysis; subject averages each subject's images first (manifest subject column).")
@click.option("--resamples", type=click.IntRange(min=100), default=10_000, show_default=True,
              help="Bootstrap resamples.")
@click.option("--seed", type=int, default=42, show_default=True, help="Bootstrap seed.")
@click.option("--wilcoxon", "wilcoxon_method", type=click.Choice(["auto", "exact", "approx"]), default="auto",
              show_default=True, help="Wilcoxon p-value method (auto: exact for n<=50 without ties/zeros).")
@out_option("Folder for compare.json, compare.md, bland_altman.png; must be new or empty.",
            type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True,
              help="Write into an existing --out, replacing only compare.json, compare.md and bland_altman.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def compare_cmd(run_a, run_b, metric, by, resamples, seed, wilcoxon_method, out, overwrite, as_json) -> None:
    """Paired statistics of RUN_A minus RUN_B (two `zoo eval` reports), matched by id.

    \b
    Wilcoxon signed-rank (two-sided), Cohen's d_z and the paper's pooled-SD d, paired bootstrap
    95% CI of the mean difference, Bland-Altman bias and limits of agreement.
    Example:  zoo eval compare reports/medvae reports/sdvae --metric psnr --by subject --out cmp
    """
    import json

    from zoo.evaluate.compare import COMPARE_FILES, compare_reports, compare_rows, write_compare_report
    from zoo.evaluate.report import load_report, to_jsonable
    from zoo.folders.guard import prepare_output

    if out is not None:
        prepare_output(out, inputs=[run_a, run_b], overwrite=overwrite, will_write=COMPARE_FILES)

    names = (_run_name(run_a), _run_name(run_b))
    if names[0] == names[1]:
        names = (str(run_a), str(run_b))
    try:
        result = compare_reports(load_report(run_a), load_report(run_b), metric=metric, by=by, names=names,
                                 n_resamples=resamples, seed=seed, wilcoxon_method=wilcoxon_method)
        if out is not None:
            write_compare_report(result, out)
    except _EVAL_ERRORS as err:
        fail(str(err))
    if as_json:
        click.echo(json.dumps(to_jsonable({k: v for k, v in result.items() if k != "pairs"}), indent=2))
        return
    rows = [[k, f"{v:.4g}" if isinstance(v, float) else v] for k, v in compare_rows(result)]
    print_table(["statistic", "value"], rows)
    if out is not None:
        click.echo(f"written to {out}")


def _run_name(path: Path) -> str:
    return path.stem if path.is_file() else path.name
