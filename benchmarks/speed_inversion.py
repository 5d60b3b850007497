"""How long one inversion takes on this machine: a 256×256 image, one thread.

    OMP_NUM_THREADS=1 python benchmarks/speed_inversion.py

Times ``invimg.inversion.run_inversion`` on ``data/holdout20-256/calla.png``
(the whole call: Φ0, the optimisation, the 8-bit result and its error) for
HOG, HOGb and dense SIFT with the IJCV 2016 preset (300 + 50 iterations),
HOG with the CVPR 2015 preset (800 iterations), and a layer of the rotnet
trained here if its card exists. Each case runs ``--repeats`` times; the JSON
in ``benchmarks/results/inversion_speed.json`` keeps every time, both the
wall time and the CPU time of the process (with one thread and a machine
shared with other jobs, the CPU time is what the inversion itself costs;
the wall time is what a user waited).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from invimg.inversion.api import run_inversion

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROTNET = ROOT / "runs" / "rotnet-small" / "rotnet-small.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=ROOT / "data/holdout20-256/calla.png")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "inversion_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [("hog", "ijcv2016"), ("hogb", "ijcv2016"), ("dsift", "ijcv2016"),
             ("hog", "cvpr2015")]  # fmt: skip
    if ROTNET.exists():
        cases.append((f"torch:{ROTNET}:conv5", "ijcv2016"))
    rows = {}
    for spec, preset in cases:
        wall, cpu = [], []
        for _ in range(args.repeats):
            started = time.process_time()
            wall.append(run_inversion(args.image, spec, preset=preset).seconds)
            cpu.append(time.process_time() - started)
        name = f"{spec.replace(str(ROOT) + '/', '')}/{preset}"
        rows[name] = {
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "cpu_median": statistics.median(cpu),
        }
        print(f"{name}: {min(cpu):.1f} s CPU, {min(wall):.1f} s wall (min of {args.repeats})")
    report = {
        "protocol": {
            "image": f"{args.image.relative_to(ROOT)} (256x256)",
            "timed": "wall: the optimisation (Inversion.seconds); cpu: the whole run_inversion "
            "call (features, optimisation, 8-bit result, its error) in process CPU time",
            "hardware": f"2-core CPU ({platform.processor() or platform.machine()}), "
            "torch.set_num_threads(1), machine shared with other jobs",
            "torch": torch.__version__,
        },
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
