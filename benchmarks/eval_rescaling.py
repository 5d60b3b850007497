"""Evaluate an IRN / IRN-Color model with the published protocol; markdown table + JSON.

    python benchmarks/eval_rescaling.py --model irn-x4 data/holdout [--json out.json]

The protocol (HR modcropped to the scale, LR through an 8-bit PNG, Y channel
BT.601, border crop = scale, z = 0 and z ~ N(0, I), PIL bicubic and Lanczos
down + up beside it, the paper's DIV2K number for reference) is implemented
and documented in :mod:`invimg.rescaling.evaluation`, which ``invimg eval
rescaling`` calls too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from invimg.rescaling.evaluation import evaluate_rescaling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="Folder of HR images (e.g. data/holdout).")
    parser.add_argument("--model", default="irn-x4", help="Shipped model name or card path.")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N images.")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the report here.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    report = evaluate_rescaling(args.model, args.folder, limit=args.limit)
    print(report["markdown"])
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
