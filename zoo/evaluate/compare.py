"""Compare two `zoo eval` runs image by image (or subject by subject), paired strictly by id."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from zoo.evaluate.hallucination import cohens_h
from zoo.evaluate.pairing import matched_ids
from zoo.evaluate.report import dumps, fmt, markdown_table
from zoo.evaluate.stats import paired_comparison
from zoo.folders.atomic import atomic_dir


def per_id_values(report: dict[str, Any], metric: str, by: str = "image", name: str = "run") -> dict[str, float]:
    """``id -> metric`` from a report; ``by="subject"`` averages the images of each subject first."""
    records = report.get("per_image", [])
    if not records or metric not in records[0]:
        known = sorted(k for k, v in (records[0] if records else {}).items() if isinstance(v, (int, float)))
        raise ValueError(f"{name}: report has no per-image {metric!r}; available: {', '.join(known) or 'none'}")

    def value(r: dict[str, Any]) -> float:
        v = r.get(metric)
        return math.nan if v is None else float(v)

    if by == "image":
        return {r["id"]: value(r) for r in records}
    if by != "subject":
        raise ValueError(f"by must be 'image' or 'subject', got {by!r}")
    missing = [r["id"] for r in records if not r.get("subject")]
    if missing:
        raise ValueError(f"{name}: {len(missing)} image(s) have no subject (e.g. {missing[0]}); "
                         "the reference folder's manifest.csv needs a subject column for --by subject")
    groups: dict[str, list[float]] = defaultdict(list)
    for r in records:
        groups[r["subject"]].append(value(r))
    return {s: float(np.mean(v)) for s, v in groups.items()}


def compare_reports(a: dict[str, Any], b: dict[str, Any], metric: str = "psnr", by: str = "image",
                    names: tuple[str, str] = ("A", "B"), n_resamples: int = 10_000, seed: int = 42,
                    wilcoxon_method: str = "auto") -> dict[str, Any]:
    """Paired statistics of ``metric`` for run A minus run B (positive = A higher)."""
    va = per_id_values(a, metric, by, names[0])
    vb = per_id_values(b, metric, by, names[1])
    ids = matched_ids(va, vb, names)
    xa, xb = np.array([va[i] for i in ids]), np.array([vb[i] for i in ids])
    bad = [i for i, x, y in zip(ids, xa, xb, strict=True) if not (math.isfinite(x) and math.isfinite(y))]
    if bad:
        raise ValueError(f"{len(bad)} pair(s) have a missing or infinite {metric} (e.g. id {bad[0]!r}); "
                         "cannot run paired statistics")
    result: dict[str, Any] = {"a": names[0], "b": names[1], "metric": metric, "by": by,
                              **paired_comparison(xa, xb, n_resamples=n_resamples, seed=seed,
                                                  wilcoxon_method=wilcoxon_method)}
    if metric != "hallu_rate" and all("hallu_rate" in (r.get("per_image") or [{}])[0] for r in (a, b)):
        pa = float(np.mean(list(per_id_values(a, "hallu_rate", "image").values())))
        pb = float(np.mean(list(per_id_values(b, "hallu_rate", "image").values())))
        result["hallucination"] = {"rate_a": pa, "rate_b": pb, "cohens_h": cohens_h(pa, pb)}
    result["pairs"] = {"ids": ids, "a": xa.tolist(), "b": xb.tolist()}
    return result


def compare_rows(result: dict[str, Any]) -> list[list[Any]]:
    """(statistic, value) rows for a table."""
    ci, w, ba = result["ci_mean_diff"], result["wilcoxon"], result["bland_altman"]
    rows = [
        ["n (" + result["by"] + "s)", result["n"]],
        [f"mean {result['a']}", f"{fmt(result['mean_a'])} ± {fmt(result['std_a'])}"],
        [f"mean {result['b']}", f"{fmt(result['mean_b'])} ± {fmt(result['std_b'])}"],
        ["mean difference (A−B)", result["mean_diff"]],
        [f"paired bootstrap {int(ci['confidence'] * 100)}% CI", f"[{fmt(ci['low'])}, {fmt(ci['high'])}]"],
        ["Cohen's d_z (paired)", result["cohens_dz"]],
        ["Cohen's d (pooled SD, paper)", result["cohens_d_pooled"]],
        [f"Wilcoxon p ({w['alternative']}, {w['method']})", w["p"]],
        ["rank-biserial r", result["rank_biserial"]],
        ["A better / B better", f"{result['n_a_better']} / {result['n_b_better']}"],
        ["Bland–Altman bias, LoA", f"{fmt(ba['bias'])} [{fmt(ba['loa_low'])}, {fmt(ba['loa_high'])}]"],
    ]
    if "hallucination" in result:
        h = result["hallucination"]
        rates = f"{fmt(h['rate_a'])} / {fmt(h['rate_b'])}, {fmt(h['cohens_h'])}"
        rows.append(["hallucination rate A / B, Cohen's h", rates])
    return rows


COMPARE_FILES = ("compare.json", "compare.md", "bland_altman.png")  # what write_compare_report writes


def write_compare_report(result: dict[str, Any], out_dir: str | Path, figures: bool = True) -> Path:
    """Write compare.json, compare.md and a Bland–Altman figure into ``out_dir`` (atomically)."""
    from zoo.evaluate import figures as fig

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        (tmp / "compare.json").write_text(dumps(result))
        title = f"# zoo eval compare: {result['metric']} ({result['a']} − {result['b']}, by {result['by']})\n\n"
        (tmp / "compare.md").write_text(title + markdown_table(["statistic", "value"], compare_rows(result)))
        if figures:
            a, b = np.array(result["pairs"]["a"]), np.array(result["pairs"]["b"])
            fig.bland_altman_plot(a, b, result["bland_altman"], tmp / "bland_altman.png", result["metric"])
    return out_dir
