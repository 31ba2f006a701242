"""Write and read evaluation reports: a folder with report.json, report.md, per_image.csv and figures/.

JSON is strict (NaN and ±inf are written as ``null``). Every folder is written atomically: it
appears complete or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from zoo.folders.atomic import atomic_dir, write_text

REPORT_JSON = "report.json"
EVAL_REPORT_FILES = (REPORT_JSON, "report.md", "per_image.csv", "figures")  # what write_eval_report writes


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when inside it (reports stay machine-independent)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def to_jsonable(value: Any) -> Any:
    """Replace NaN/inf floats with None, recursively, and numpy scalars with Python numbers."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(data: Any) -> str:
    """Strict, indented JSON."""
    return json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n"


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table cell (``-`` for missing)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-" if value is None or math.isnan(value) else str(value)
    if isinstance(value, float):
        if abs(value) < 1e-3 and value != 0:
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def per_image_csv(records: list[dict[str, Any]]) -> str:
    """CSV text of per-image records (union of keys, id first)."""
    keys: list[str] = []
    for record in records:
        keys += [k for k in record if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(to_jsonable(records))
    return buf.getvalue()


def eval_markdown(result: dict[str, Any]) -> str:
    """Markdown summary of an evaluation."""
    summary = result["summary"]
    main = [k for k in ("psnr", "ssim", "ms_ssim", "lpips", "roi_psnr", "roi_ssim", "hallu_rate", "loss_rate")
            if k in summary]
    text = [f"# zoo eval ({result.get('protocol', 'true-hr')})\n",
            f"- predictions: `{result['pred_dir']}`\n- references: `{result['ref_dir']}`\n"
            f"- pairs: {result['n']} (paired by id)\n"]
    if result.get("vae"):
        text.append(f"- autoencoder: `{result['vae']}`\n")
    text.append("\n## Metrics (mean ± std over images, std ddof=0)\n\n")
    text.append(markdown_table(["metric", "mean", "std", "n"],
                               [[k, summary[k]["mean"], summary[k]["std"], summary[k]["n"]] for k in main]))
    bands = result.get("bands", [])
    if bands and f"band_psnr_{bands[0]}" in summary:
        text.append("\n## Haar bands (3 levels)\n\n")
        text.append(markdown_table(
            ["band", "PSNR (per-band peak, paper)", "MSE", "relative energy error"],
            [[b, summary[f"band_psnr_{b}"]["mean"], summary[f"band_mse_{b}"]["mean"],
              summary[f"band_rel_err_{b}"]["mean"]] for b in bands]))
    ba = result.get("intensity_bland_altman")
    if ba:
        text.append("\n## Bland–Altman of mean intensity (prediction − reference)\n\n")
        text.append(markdown_table(["bias", "SD (ddof=1)", "LoA low", "LoA high"],
                                   [[ba["bias"], ba["sd"], ba["loa_low"], ba["loa_high"]]]))
    text.append("\n## Notes\n\n" + "".join(f"- {n}\n" for n in result.get("notes", [])))
    return "".join(text)


def write_eval_report(result: dict[str, Any], out_dir: str | Path, figures: bool = True) -> Path:
    """Write an evaluation folder (report.json/.md, per_image.csv, figures/); returns the folder."""
    from zoo.evaluate import figures as fig
    from zoo.evaluate.stats import bland_altman

    out_dir = Path(out_dir)
    examples = result.get("examples", [])
    data = {k: v for k, v in result.items() if k != "examples"}
    with atomic_dir(out_dir) as tmp:
        (tmp / REPORT_JSON).write_text(dumps(data))
        (tmp / "report.md").write_text(eval_markdown(data))
        (tmp / "per_image.csv").write_text(per_image_csv(data["per_image"]))
        if figures and data["per_image"]:
            import numpy as np

            records = data["per_image"]
            fig.distributions(records, tmp / "figures" / "distributions.png")
            fig.band_bars(data["summary"], data["bands"], tmp / "figures" / "bands.png")
            fig.spectrum_plot(data["spectrum"], tmp / "figures" / "spectrum.png")
            if len(records) > 1:
                a = np.array([r["mean_pred"] for r in records])
                b = np.array([r["mean_ref"] for r in records])
                fig.bland_altman_plot(a, b, bland_altman(a, b), tmp / "figures" / "bland_altman.png", "mean intensity")
            if examples:
                fig.example_crops(examples, tmp / "figures" / "examples.png")
    return out_dir


def load_report(path: str | Path) -> dict[str, Any]:
    """An evaluation report from its folder or its JSON file."""
    path = Path(path)
    file = path / REPORT_JSON if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{path}: no {REPORT_JSON} (expected a `zoo eval` report folder or JSON file)")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{file}: not valid JSON ({err})") from err


def write_json(path: str | Path, data: Any) -> None:
    """Atomically write strict JSON."""
    write_text(path, dumps(data))
