"""Quality of a hiding model on a folder of images, measured through 8-bit PNG files.

For each image ``i`` of ``DIR`` (sorted), images ``i+1 … i+S`` are hidden in
it; the stego is saved as PNG and read back before revealing. Reports PSNR
and SSIM (RGB and Y), APD and RMSE of the stego and of every revealed
secret, beside the 4-bit LSB baseline on the same images; prints a markdown
table and writes JSON (see :mod:`invimg.hiding.evaluation` for the protocol).

``--z both`` reveals every stego twice, with z = 0 and with a Gaussian z
(seed 0): the measurement behind the API's default.

    python benchmarks/eval_hiding.py --model hinet data/holdout256 --size 256
    python benchmarks/eval_hiding.py --model runs/x/model.json data/holdout --size full --z both
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from invimg.hiding.base import DEFAULT_Z, Z_MODES
from invimg.hiding.evaluation import evaluate_hiding, markdown_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("--model", default="hinet", help="shipped name or model card (.json)")
    p.add_argument("--size", default="256", help="side of the centre crop, or 'full'")
    p.add_argument("--z", default=DEFAULT_Z, choices=[*Z_MODES, "both"])
    p.add_argument("--limit", type=int, default=None, help="use only the first N covers")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None, help="default: eval_hiding_<model>.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    zs = list(Z_MODES) if args.z == "both" else [args.z]
    result = evaluate_hiding(args.model, args.folder, size=args.size, zs=zs, limit=args.limit)
    print(f"{result['images']} covers from {args.folder}; protocol: {result['protocol']}\n")
    print(markdown_table(result))
    out = args.json or Path(f"eval_hiding_{Path(str(args.model)).stem}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
