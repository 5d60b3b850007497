"""Training throughput per recipe: pixels per second of the real trainer, side by side.

    python benchmarks/speed_training.py --steps 4 --json benchmarks/results/training_speed.json

Each row runs :class:`invimg.training.Trainer` on a recipe (with overrides) in a
fresh process, so its thread count is set before torch starts, and times the
optimisation steps after ``--warmup`` steps (forward, backward, clipping, Adam,
the guard and the weight average; data loading and validation excluded). It
reports the median wall and CPU seconds per step and the training pixels (crop²
× batch) per wall second and per CPU second. Rows vary what the hiding issue
asked to measure: the old and the new recipe, batch and crop size, fp32 against
bf16 autocast, channels-last memory layout, 1 and 2 threads. ``bf16`` rows force
autocast even on a CPU without native bf16 (the trainer itself refuses there),
to show what the detection saves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECIPES = HERE.parent / "src" / "invimg" / "training" / "recipes"

HINET, IRN = "hinet-sharp-cpu", "irn-x2-z0-cpu"
B4_96, B16_128, B4_256 = (
    ["data.batch_size=4", "data.crop=96"],
    ["data.batch_size=16"],
    ["data.batch_size=4", "data.crop=256"],
)
#: (label, recipe, overrides, threads, mode) — mode: fp32 | bf16 | channels_last
ROWS: list[tuple[str, str, list[str], int, str]] = [
    ("hinet-small-cpu (before)", "hinet-small-cpu", [], 1, "fp32"),
    ("hinet-small-cpu (before)", "hinet-small-cpu", [], 2, "fp32"),
    (HINET, HINET, [], 1, "fp32"),
    (HINET, HINET, [], 2, "fp32"),
    (HINET, HINET, [], 1, "bf16"),
    (HINET, HINET, [], 1, "channels_last"),
    (f"{HINET}, batch 4 × 96²", HINET, B4_96, 1, "fp32"),
    (f"{HINET}, batch 16 × 128²", HINET, B16_128, 1, "fp32"),
    (f"{HINET}, batch 4 × 256²", HINET, B4_256, 1, "fp32"),
    ("irn-x2-small-cpu (before)", "irn-x2-small-cpu", [], 1, "fp32"),
    (IRN, IRN, [], 1, "fp32"),
    (IRN, IRN, [], 2, "fp32"),
    (IRN, IRN, [], 1, "bf16"),
    (IRN, IRN, [], 1, "channels_last"),
]  # fmt: skip


def measure(
    recipe: str, overrides: list[str], mode: str, warmup: int, steps: int
) -> dict[str, Any]:
    """Run one row in this process (called in a child); returns its timings."""
    import torch

    from invimg.training import Trainer, get_task_factory, load_config
    from invimg.training import trainer as trainer_module

    with tempfile.TemporaryDirectory(prefix="invimg-speed-") as tmp:
        fixed = [
            f"out_dir={tmp}/run", f"steps={warmup + steps}", "log_every=1000000",
            "val_every=1000000", "ckpt_every=1000000", "max_minutes=null", "data.num_workers=0",
            "amp=" + ("bf16" if mode == "bf16" else "'off'"),
        ]  # fmt: skip
        cfg = load_config(RECIPES / f"{recipe}.yaml", [*overrides, *fixed])
        cfg.data.val = []
        if mode == "bf16":  # measure autocast even where it is emulated
            trainer_module.bf16_autocast_pays = lambda device: True
        task = get_task_factory(cfg.task)(cfg)
        if mode == "channels_last":
            _channels_last(task)
        trainer = Trainer(cfg, task)
        times: list[tuple[float, float]] = []
        optimise = trainer._optimise

        def timed(batch: torch.Tensor) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            out = optimise(batch)
            times.append((time.perf_counter() - wall, time.process_time() - cpu))
            return out

        trainer._optimise = timed  # type: ignore[method-assign]
        trainer.fit()
    kept = times[warmup:]
    wall = statistics.median(t for t, _ in kept)
    cpu = statistics.median(c for _, c in kept)
    pixels = cfg.data.batch_size * cfg.data.crop**2
    return {
        "batch": cfg.data.batch_size,
        "crop": cfg.data.crop,
        "s_per_step": round(wall, 3),
        "cpu_s_per_step": round(cpu, 3),
        "kpixels_per_s": round(pixels / wall / 1e3, 1),
        "kpixels_per_cpu_s": round(pixels / cpu / 1e3, 1),
        "torch_threads": torch.get_num_threads(),
    }


def _channels_last(task: Any) -> None:
    """Build the model and feed the batches in channels-last layout."""
    import torch

    build, step = task.build_model, task.training_step
    task.build_model = lambda: build().to(memory_format=torch.channels_last)
    task.training_step = lambda model, batch, s: step(
        model, batch.contiguous(memory_format=torch.channels_last), s
    )


def run_row(row: tuple[str, str, list[str], int, str], warmup: int, steps: int) -> dict[str, Any]:
    label, recipe, overrides, threads, mode = row
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    spec = json.dumps([recipe, overrides, mode, warmup, steps])
    child = subprocess.run(
        [sys.executable, __file__, "--child", spec],
        env=env, capture_output=True, text=True, check=True, cwd=HERE.parent,
    )  # fmt: skip
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return {"row": label, "recipe": recipe, "overrides": overrides, "threads": threads,
            "mode": mode, **result}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--only", help="Run the rows whose label contains this text.")
    parser.add_argument(
        "--skip-mode",
        action="append",
        default=[],
        help="Leave out rows of this mode (e.g. bf16 where it is emulated).",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        recipe, overrides, mode, warmup, steps = json.loads(args.child)
        print(json.dumps(measure(recipe, overrides, mode, warmup, steps)))
        return
    rows = [r for r in ROWS if (not args.only or args.only in r[0]) and r[4] not in args.skip_mode]
    results = []
    for row in rows:
        results.append(run_row(row, args.warmup, args.steps))
        print(json.dumps(results[-1]), flush=True)
    report = {
        "protocol": {
            "warmup_steps": args.warmup,
            "timed_steps": args.steps,
            "statistic": "median over the timed steps",
            "machine": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "rows": results,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
