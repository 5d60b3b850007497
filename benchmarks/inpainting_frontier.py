"""PD-GAN's quality/diversity frontier: the benchmark of ``eval_inpainting.py`` at many strengths.

    OMP_NUM_THREADS=1 python benchmarks/inpainting_frontier.py \\
        --model "stride 1 (pdgan-cpu-ke)=runs/pdgan-cpu-ke/export/pdgan.json" \\
        --model "stride 4 (pdgan-cpu-coarse)=runs/pdgan-cpu-coarse/export/pdgan.json" \\
        --strength 0.1 0.25 0.5 1

``--crops-from data/train-small`` measures on seeded 256² crops of the
*training* photos instead (short side resized to 512 as for the held-out
crops, 2 per photo): the set on which a generator is chosen, so that the
held-out images only measure it. ``--model`` is a shipped name, a card, or
``LABEL=SPEC``; ``--append`` adds models to an existing results file (its
classical rows are kept).

``strength`` scales how far the samples depart from the prior (0: every
sample is the prior). Diversity costs PSNR and SSIM, so the question the
issue asks — are the samples at least as good as Telea and biharmonic *and*
clearly diverse — is a question about this curve, not about one point.

For each model and strength: :func:`invimg.inpainting.evaluation.evaluate_inpainting`
on ``data/holdout20-256`` (same images, holes, latents and protocol as the
headline table), the classical rows once. Each row says whether the samples
reach the better of Telea and biharmonic in each of the four columns.
Results: ``benchmarks/results/inpainting_frontier.json`` and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from invimg.inpainting.evaluation import (
    CLASSICAL,
    classical_bar,
    evaluate_inpainting,
    training_crops,
)

HERE = Path(__file__).resolve().parent


def row(report: dict[str, Any], target: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The PD-GAN numbers of one run, with pass flags and the diversity summary."""
    out: dict[str, Any] = {"strength": report["strength"], "bins": {}}
    for name, b in report["bins"].items():
        scores, rings = b["rows"]["pdgan"], b["diversity"]
        out["bins"][name] = {
            **scores,
            "passes": {m: scores[m] >= target[name][m] for m in ("psnr", "ssim")},
            "pixel_l1_hole": rings["hole"]["pixel_l1"],
            "lpips_like_hole": rings["hole"]["lpips_like"],
            "pixel_l1_border": rings["0-4px"]["pixel_l1"],
            "pixel_l1_16_32": rings["16-32px"]["pixel_l1"],
        }
    return out


def markdown(results: dict[str, Any]) -> str:
    """One line per (model, strength); ✓ where a column reaches the classical bar."""
    bins = list(results["bar"])
    head = "| model | strength | " + " | ".join(
        f"PSNR {b} | SSIM {b} | px / LPIPS-like×10⁻⁴ {b}" for b in bins
    )
    lines = [head + " |", "|---|---:|" + "---:|---:|---:|" * len(bins)]
    cells = " | ".join(
        f"{results['bar'][b]['psnr']:.2f} | {results['bar'][b]['ssim']:.4f} | 0 / 0" for b in bins
    )
    lines.append(f"| better of Telea and biharmonic | – | {cells} |")
    for label, entry in results["models"].items():
        for r in entry["rows"]:
            parts = []
            for b in bins:
                v = r["bins"][b]
                ok = {m: "✓" if v["passes"][m] else "✗" for m in ("psnr", "ssim")}
                parts.append(
                    f"{v['psnr']:.2f} {ok['psnr']} | {v['ssim']:.4f} {ok['ssim']} | "
                    f"{v['pixel_l1_hole']:.2f} / {1e4 * v['lpips_like_hole']:.2f}"
                )
            lines.append(f"| {label} | {r['strength']:g} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent / "data" / "holdout20-256")
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--strength", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "inpainting_frontier.json")
    parser.add_argument("--append", action="store_true", help="Add to the models of --out.")
    parser.add_argument("--crops-from", type=Path, default=None, help="Training photos to crop.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, Any] = {"data": str(args.crops_from or args.data), "models": {}}
    if args.crops_from is not None:
        results["data"] = f"2 seeded 256x256 crops of each photo of {args.crops_from}"
    if args.append:
        results = json.loads(args.out.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        data = training_crops(args.crops_from, Path(tmp)) if args.crops_from else args.data
        sweep(args, data, results)
    results["markdown"] = markdown(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(results["markdown"])


def sweep(args: argparse.Namespace, data: Path, results: dict[str, Any]) -> None:
    """Every ``--model`` at every ``--strength``, the classical rows once, into ``results``."""
    for item in args.model:
        label, _, model = item.rpartition("=")
        label = label or model
        results["models"][label] = {"model": model, "rows": []}
        for strength in args.strength:
            classical = "bar" not in results
            report = evaluate_inpainting(model, data, strength=strength, classical=classical)
            if classical:
                results["bar"] = classical_bar(report)
                results["classical"] = {
                    b: {m: v["rows"][m] for m in (*CLASSICAL, "push-pull", "prior")}
                    for b, v in report["bins"].items()
                }
            results["models"][label]["rows"].append(row(report, results["bar"]))
            print(label, strength, json.dumps(row(report, results["bar"])["bins"]), flush=True)


if __name__ == "__main__":
    main()
