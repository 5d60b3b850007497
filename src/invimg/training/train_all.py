"""Train several recipes at once on one machine, in bounded calls, and export fp16 weights.

    python -m invimg.training.train_all --minutes 9 --export shipped/   # the hiding models
    python -m invimg.training.train_all hinet deepmih2 riis --minutes 9 --export shipped/

Made for a lent GPU with a per-command time limit: every recipe runs as its
own process (one GPU holds all of them; the trainer picks CUDA and bf16 by
itself), each stops with a checkpoint after ``--minutes`` less a margin for
start-up and export, and the next call resumes every run where it stopped
(the trainer's automatic resume). Afterwards each run's weights (its weight
average where the recipe keeps one) are exported as fp16 safetensors + card
into ``--export``, and a file over ``--max-mib`` is an error: what comes back
from such a machine must be small.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .export import export_run

RECIPES = Path(__file__).resolve().parent / "recipes"
#: The recipes of the shipped hiding models (``hinet deepmih2 riis`` names the
#: published-size ones, for a longer GPU budget).
HIDING = ("hinet-sharp-cpu", "deepmih2-small-cpu", "riis-small-cpu")


def recipe_path(name: str) -> Path:
    """A recipe by name (``hinet``) or path."""
    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") else RECIPES / f"{name}.yaml"


def launch(
    recipe: Path, out_dir: Path, minutes: float, overrides: Sequence[str]
) -> subprocess.Popen[bytes]:
    """One training process for ``recipe``, writing into ``out_dir`` (log beside it)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    sets = [*overrides, f"out_dir={out_dir}", f"max_minutes={minutes}"]
    cmd = [sys.executable, "-m", "invimg.training", str(recipe)]
    for item in sets:
        cmd += ["--set", item]
    log = (out_dir.parent / f"{out_dir.name}.log").open("ab")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())


def train_all(
    names: Sequence[str],
    runs: Path,
    export: Path | None,
    minutes: float,
    overrides: Sequence[str] = (),
    max_mib: float = 16.0,
) -> dict[str, int]:
    """Run every recipe concurrently; return each one's exit code (0 = trained or resumed)."""
    started = time.monotonic()
    procs = {}
    for name in names:
        recipe = recipe_path(name)
        procs[recipe.stem] = (recipe, launch(recipe, runs / recipe.stem, minutes, overrides))
    codes = {stem: proc.wait() for stem, (_, proc) in procs.items()}
    print(f"trained {len(procs)} run(s) in {time.monotonic() - started:.0f} s: {codes}")
    if export is not None:
        for stem in procs:
            run_dir = runs / stem
            if codes[stem] == 0 and (run_dir / "last.pt").is_file():
                card = export_run(run_dir, stem, export, {})
                size = card.weights_path.stat().st_size / 2**20
                if size > max_mib:
                    raise SystemExit(f"error: {card.weights_path} is {size:.1f} MiB > {max_mib}")
                print(f"exported {card.path} ({size:.1f} MiB)")
    return codes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m invimg.training.train_all", description=__doc__
    )
    parser.add_argument("recipes", nargs="*", default=list(HIDING), help="names or YAML paths")
    parser.add_argument("--minutes", type=float, default=9.0, help="wall time of this call")
    parser.add_argument(
        "--margin", type=float, default=1.5, help="minutes kept for start-up and export"
    )
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder of the run folders")
    parser.add_argument("--export", type=Path, help="write fp16 weights + cards here")
    parser.add_argument("--max-mib", type=float, default=16.0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override applied to every recipe (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    minutes = max(args.minutes - args.margin, 0.0)
    codes = train_all(args.recipes, args.runs, args.export, minutes, args.overrides, args.max_mib)
    return max(codes.values(), default=0)


if __name__ == "__main__":
    sys.exit(main())
