"""Hide-time refinement: quality and time against the number of steps (issue #16).

    OMP_NUM_THREADS=1 python benchmarks/refine_curve.py data/holdout768 --steps 10 30 100 \\
        --json benchmarks/results/refine-holdout768.json

Each point is :func:`invimg.hiding.evaluation.evaluate_hiding` with ``refine=N``: the
model's plain stego, the refined stego and 4-bit LSB on the same pairs, each stego
saved as an 8-bit PNG and read back, revealed with z = 0 (the protocol travels in the
JSON). ``--demo`` measures the pair `invimg demo` shows (the bundled cover hiding the
bundled secret) instead of a folder. Time: seconds of refinement per image, on
however many threads ``OMP_NUM_THREADS`` allows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from invimg.hiding.evaluation import evaluate_hiding

ASSETS = Path(__file__).resolve().parents[1] / "src" / "invimg" / "assets"


def point(model: str, folder: Path, size: str, steps: int, limit: int | None) -> dict[str, Any]:
    start = time.perf_counter()
    evaluate_hiding(model, folder, size=size, limit=limit)  # the time without refining
    plain_s = time.perf_counter() - start
    start = time.perf_counter()
    result = evaluate_hiding(model, folder, size=size, limit=limit, refine=steps)
    both_s = time.perf_counter() - start
    images = result["images"]
    summary = result["summary"]
    return {
        "steps": steps,
        "images": images,
        "refine_seconds_per_image": max(both_s - 2 * plain_s, 0.0) / images,
        "psnr_rgb": {
            method: {part: round(v["psnr_rgb"], 2) for part, v in parts.items()}
            for method, parts in summary.items()
        },
        "ssim_rgb": {
            method: {part: round(v["ssim_rgb"], 4) for part, v in parts.items()}
            for method, parts in summary.items()
        },
        "protocol": result["protocol"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?")
    parser.add_argument("--demo", action="store_true", help="The demo's pair instead.")
    parser.add_argument("--model", default="hinet-small")
    parser.add_argument("--size", default="256")
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, limit = args.folder, None
        if args.demo:
            folder, limit = Path(tmp), 1  # sorted: cover.png hides secret.png
            for name in ("cover.png", "secret.png"):
                shutil.copy(ASSETS / name, folder / name)
        if folder is None:
            parser.error("give a folder or --demo")
        points = []
        for steps in args.steps:
            points.append(point(args.model, folder, args.size, steps, limit))
            print(
                json.dumps(points[-1]["psnr_rgb"]),
                f"{points[-1]['refine_seconds_per_image']:.1f} s",
            )
    out = {
        "model": args.model,
        "images": "demo pair" if args.demo else str(args.folder),
        "threads": torch.get_num_threads(),
        "points": points,
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
