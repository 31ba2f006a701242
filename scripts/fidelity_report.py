"""Fidelity of the embedded default (or --pipeline) on the held-out images: zoo, bicubic, Lanczos, AE ceiling.

    python scripts/fidelity_report.py            # -> benchmarks/results/fidelity.md + fidelity.json

Per held-out image and per modality: PSNR and SSIM of each method (``zoo eval``), and a paired
Wilcoxon test of zoo vs bicubic (``zoo eval compare``). The held-out split and the modalities are
read from the bundled samples (prepared/manifest.csv, samples.csv), so new samples and weights need
no change here. PSNR/SSIM do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results", help="folder for fidelity.md and fidelity.json")
    parser.add_argument("--pipeline", default=None, help="saved pipeline folder (default: the embedded default)")
    parser.add_argument("--data", default=None, help="prepared dataset folder (default: the bundled samples)")
    parser.add_argument("--split", default="test", choices=["test", "val", "train"], help="split to score")
    parser.add_argument("--seed", type=int, default=0, help="seed of every zoo sr call")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", default=None, help="keep the outputs and zoo eval / compare folders here")
    args = parser.parse_args(argv)

    from zoo.evaluate.fidelity import measure_fidelity, write_fidelity

    result = measure_fidelity(args.pipeline, split=args.split, data=args.data, seed=args.seed, device=args.device,
                              work=args.keep)
    md, js = write_fidelity(result, args.out)
    overall = result["overall"]
    print(f"zoo {overall['psnr_zoo']:.2f} dB vs bicubic {overall['psnr_bicubic']:.2f} dB "
          f"({overall['psnr_gain']:+.2f}) on {overall['n']} images; wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
