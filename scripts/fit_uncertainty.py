#!/usr/bin/env python
"""Fit a pipeline's uncertainty-map weights on the validation split and store them with the pipeline.

    python scripts/fit_uncertainty.py                      # the embedded default, bundled val split: print
    python scripts/fit_uncertainty.py --split val+train --write   # shape from both, scale from val
    python scripts/fit_uncertainty.py --split val+train --calibration data/calibration/prepared --write

The weights (``uncertainty_weights``, see zoo/ops/uncertainty.py) come from
:func:`zoo.evaluate.uncertainty.fit_weights`: the shape of a small grid that ranks every fit image's errors
best against the no-model baseline, then the noise weight and the scale that size the val (and calibration)
images: the most of their per-image ratios mean(map) / mean(error) inside [0.67, 1.5], centred in it.
Only ``val`` and ``train`` may be used (``val+train``: the shape from both, the level from val): the test
split is what the report scores. Training images are biased (the model saw them: its error there is 0.5-0.7
of bicubic's, 0.88 on the unseen val image), so they choose the shape but never the level when val is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def fit(folder: Path, split: str, data: str | None, seed: int, samples: int,
        calibration: str | None = None) -> tuple[dict[str, float], list]:
    """The fitted weights and the collected images (``calibration``: a prepared folder whose val images the
    model never saw, added to the fit and to the scale: ``scripts/make_calibration.py``)."""
    import torch

    from zoo.data.pngio import load_unit
    from zoo.evaluate.heldout import held_out
    from zoo.evaluate.uncertainty import collect, fit_weights
    from zoo.pipeline import load_pipeline

    pipe = load_pipeline(folder)
    images, unseen = [], []
    parts = [(part, data) for part in split.split("+")] + ([("val", calibration)] if calibration else [])
    for part, source in parts:
        for item in held_out(part, source):
            lr = torch.from_numpy(load_unit(item.lr).astype("float32"))[None, None]
            images.append(collect(pipe, lr, load_unit(item.hr), item.id, item.modality, seed, samples))
            if part == "val":
                unseen.append(images[-1])
    return fit_weights(images, scale_on=unseen or None), images


def store(folder: Path, weights: dict[str, float]) -> Path:
    """Write ``weights`` as the ``uncertainty_weights`` option of ``folder``'s zoo_pipeline.json (atomically)."""
    from zoo.folders.atomic import write_text
    from zoo.pipeline.saved import PIPELINE_FILE

    path = folder / PIPELINE_FILE
    data = json.loads(path.read_text())
    keys = list(data)
    data["uncertainty_weights"] = {k: round(v, 6) for k, v in weights.items()}
    order = keys if "uncertainty_weights" in keys else [*keys[: keys.index("dtype")], "uncertainty_weights",
                                                        *keys[keys.index("dtype"):]]
    write_text(path, json.dumps({k: data[k] for k in order}, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default=None, help="saved pipeline folder (default: the embedded default)")
    parser.add_argument("--data", default=None, help="prepared dataset folder (default: the bundled samples)")
    parser.add_argument("--split", default="val", choices=["val", "train", "val+train"],
                        help="split(s) to fit on (never test)")
    parser.add_argument("--calibration", default=None,
                        help="prepared folder of unseen calibration scans (scripts/make_calibration.py): its val "
                             "images join the fit and the scale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=1, help="uncertainty_samples of each call")
    parser.add_argument("--write", action="store_true", help="store the weights in the pipeline's zoo_pipeline.json")
    args = parser.parse_args(argv)

    from zoo.assets import DEFAULT_PIPELINE_DIR

    folder = Path(args.pipeline) if args.pipeline else DEFAULT_PIPELINE_DIR
    from zoo.errors import ZooError

    try:
        weights, images = fit(folder, args.split, args.data, args.seed, args.samples, args.calibration)
    except ZooError as err:  # a missing or broken folder: one line, exit 2, nothing written
        parser.exit(2, f"fit_uncertainty: error: {err}\n")
    print(json.dumps({"split": args.split, "images": [im.id for im in images], "uncertainty_weights": weights}))
    if args.write:
        print(f"wrote {store(folder, weights)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
