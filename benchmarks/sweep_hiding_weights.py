"""The stego/secret trade-off of the hiding loss weights, side by side at equal steps.

    OMP_NUM_THREADS=1 python benchmarks/sweep_hiding_weights.py \\
        --weights 5:1:1 2:1:0.5 1:1:0.5 1:3:0.5 --steps 100 \\
        --json benchmarks/results/hiding_weight_sweep.json

Each weighting (reveal : hide : low-frequency) trains the same number of steps
from the same start (the recipe's ``model.init_from``, the shipped
``hinet-small`` for ``hinet-sharp-cpu``) with the same seed, crops and learning
rate; only the three weights differ. Each run is then exported (weight average,
fp16) and measured as the shipped models are (``evaluate_hiding``: 256² centre
crops of the held-out photos, stego through an 8-bit PNG, ``z = 0``), with
4-bit LSB on the same pairs. Runs go to ``runs/sweep-hiding/`` (git-ignored)
and resume if the script is run again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from invimg.hiding.evaluation import evaluate_hiding
from invimg.training import run_training
from invimg.training.export import export_run

HERE = Path(__file__).resolve().parent


def parse_weights(text: str) -> tuple[float, float, float]:
    """``"1:2:0.5"`` → (reveal, hide, low-frequency)."""
    parts = [float(p) for p in text.split(":")]
    if len(parts) != 3:
        raise SystemExit(f"error: a weighting is reveal:hide:low, got {text!r}")
    return parts[0], parts[1], parts[2]


def train_one(args: argparse.Namespace, weights: tuple[float, float, float]) -> Path:
    """One short run with these loss weights; returns its folder."""
    reveal, hide, low = weights
    out = args.runs / f"r{reveal:g}-h{hide:g}-l{low:g}"
    overrides = [
        f"loss.reveal={reveal}",
        f"loss.hide={hide}",
        f"loss.low_frequency={low}",
        f"steps={args.steps}",
        f"data.batch_size={args.batch}",
        f"optim.lr={args.lr}",
        f"optim.warmup_steps={max(1, args.steps // 10)}",
        f"val_every={args.steps}",
        f"ckpt_every={args.steps}",
        "max_minutes=600",
        f"out_dir={out}",
    ]
    return run_training(args.recipe, overrides)


def measure(run: Path, holdout: Path) -> dict[str, Any]:
    """Export the run's weight average and measure it as a shipped model is."""
    card = export_run(run, "sweep", run / "export", {})
    report = evaluate_hiding(card.path, holdout, size="256", zs=("zeros",))
    summary = report["summary"]
    secrets = [v["psnr_rgb"] for k, v in summary["model"].items() if k.startswith("secret")]
    return {
        "stego": summary["model"]["stego"]["psnr_rgb"],
        "secret_worst": min(secrets),
        "lsb4_stego": summary["lsb4"]["stego"]["psnr_rgb"],
        "lsb4_secret": min(
            v["psnr_rgb"] for k, v in summary["lsb4"].items() if k.startswith("secret")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="src/invimg/training/recipes/hinet-sharp-cpu.yaml")
    parser.add_argument("--weights", nargs="+", default=["5:1:1", "2:1:0.5", "1:1:0.5", "1:3:0.5"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--holdout", type=Path, default=HERE.parent / "data" / "holdout768")
    parser.add_argument("--runs", type=Path, default=HERE.parent / "runs" / "sweep-hiding")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for text in args.weights:
        run = train_one(args, parse_weights(text))
        rows.append({"weights": text, "run": str(run), **measure(run, args.holdout)})
        print(json.dumps(rows[-1]), flush=True)
    print("| reveal : hide : low | stego | worst secret |\n|---|---|---|")
    for row in rows:
        print(f"| {row['weights']} | {row['stego']:.2f} | {row['secret_worst']:.2f} |")
    print(f"| 4-bit LSB, same pairs | {rows[0]['lsb4_stego']:.2f} | {rows[0]['lsb4_secret']:.2f} |")
    if args.json:
        protocol = {
            "recipe": args.recipe,
            "steps": args.steps,
            "batch": args.batch,
            "lr": args.lr,
            "holdout": str(args.holdout),
            "measure": "256² centre crops, stego via 8-bit PNG, z = 0, RGB PSNR, no border crop",
        }
        args.json.write_text(json.dumps({"protocol": protocol, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
