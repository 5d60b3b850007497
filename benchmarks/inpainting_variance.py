"""Where PD-GAN samples lose quality: sample-to-sample variation or bias from the prior.

    OMP_NUM_THREADS=1 python benchmarks/inpainting_variance.py --images 8 --strength 0.25 1

For each of the first ``--images`` held-out 256² crops (``data/holdout20-256``)
and the benchmark's fixed 10–30 % hole (``benchmark_hole``, bin 0), 8 samples
(seed 0) of the shipped ``pdgan-small`` at each ``--strength``. Three
blended 8-bit results are scored against the original (PSNR / SSIM, RGB, as in
``eval_inpainting.py``): every sample (mean of the 8 scores), the pixel mean
of the 8 samples (rounded), and the prior alone. Per-sample minus mean-of-samples
is the cost of the variation between samples; mean-of-samples minus prior is
the cost of their common bias. Results: ``benchmarks/results/inpainting_variance.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from invimg.inpainting.api import inpaint
from invimg.inpainting.evaluation import benchmark_hole, load_folder, prior_method, quality

HERE = Path(__file__).resolve().parent


def scores(images: list[tuple[str, np.ndarray]], strength: float, model: str) -> dict[str, float]:
    """Mean PSNR / SSIM of per-sample, mean-of-samples and prior results."""
    prior = prior_method(model)
    rows = []
    for index, (_, image) in enumerate(images):
        hole = benchmark_hole(image.shape[:2], 0, index)
        samples = inpaint(image, hole, n=8, seed=0, model=model, strength=strength)
        per_sample = np.mean([quality(s, image) for s in samples], axis=0)
        mean = np.rint(np.mean(np.stack(samples).astype(np.float64), 0)).astype(np.uint8)
        rows.append([*per_sample, *quality(mean, image), *quality(prior(image, hole), image)])
    names = ("sample", "mean_of_samples", "prior")
    r = np.mean(rows, axis=0)
    return {
        f"{n}_{m}": float(r[2 * i + j])
        for i, n in enumerate(names)
        for j, m in enumerate(("psnr", "ssim"))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent / "data" / "holdout20-256")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--strength", type=float, nargs="+", default=[0.25, 1.0])
    parser.add_argument("--model", default="pdgan-small")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "inpainting_variance.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = load_folder(args.data)[: args.images]
    report = {str(s): scores(images, s, args.model) for s in args.strength}
    for strength, values in report.items():
        print(strength, {k: round(v, 4) for k, v in values.items()})
    args.out.write_text(json.dumps({"protocol": __doc__, "results": report}, indent=2) + "\n")


if __name__ == "__main__":
    main()
