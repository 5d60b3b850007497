"""What the command line's allocator tuning buys: ``invimg`` commands with and without it.

    OMP_NUM_THREADS=1 python benchmarks/speed_allocator.py --size 512 --repeat 3

Runs real ``invimg`` commands (``python -m invimg …``, the console script's
path) on ``--size``² crops of the bundled photos: ``hide`` and ``reveal``
(``hinet-small``), ``downscale`` and ``upscale`` (``irn-x2-small``) and
``embed`` (``steg-cinn``), each once with the tuning of
:mod:`invimg.allocator` (the default) and once with
``INVIMG_DEFAULT_MALLOC=1`` (glibc's defaults), alternating, ``--repeat``
times. Reported per command: the median CPU seconds of the child process
(user + system, start-up and imports included, as a user pays them) and its
peak resident memory. Results: ``benchmarks/results/allocator_speed.json``.
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
from pathlib import Path
from typing import Any

from PIL import Image

import invimg

ASSETS = Path(invimg.__file__).parent / "assets"
HERE = Path(__file__).resolve().parent
MODES = {"tuned (default)": {}, "glibc defaults": {"INVIMG_DEFAULT_MALLOC": "1"}}


def prepare_commands(folder: Path, size: int) -> dict[str, list[str]]:
    """The measured commands; their inputs are written to ``folder`` first."""
    for name in ("cover", "secret"):
        photo = Image.open(ASSETS / f"{name}.png").convert("RGB")
        photo.resize((size, size), Image.Resampling.LANCZOS).save(folder / f"{name}.png")
    setup = [
        ["hide", "cover.png", "secret.png", "-o", "stego.png"],
        ["downscale", "cover.png", "-x", "2", "-o", "small.png"],
    ]
    for args in setup:
        run(folder, args, {})
    return {
        "hide": ["hide", "cover.png", "secret.png", "-o", "out.png", "--force"],
        "reveal": ["reveal", "stego.png", "-o", "out.png", "--force"],
        "downscale": ["downscale", "cover.png", "-x", "2", "-o", "out.png", "--force"],
        "upscale": ["upscale", "small.png", "-o", "out.png", "--force"],
        "embed": ["embed", "cover.png", "--message", "x" * 2000, "-o", "out.png", "--force"],
    }


def run(folder: Path, args: list[str], env: dict[str, str]) -> dict[str, float]:
    """One command in a fresh process: its own CPU seconds and peak RSS (MB), from wait4."""
    child = subprocess.Popen(
        [sys.executable, "-m", "invimg", *args],
        cwd=folder,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"invimg {args[0]} failed: {errors.decode()[-500:]}")
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "allocator_speed.json")
    args = parser.parse_args()
    times: dict[str, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, argv in prepare_commands(folder, args.size).items():
            times[name] = {mode: [] for mode in MODES}
            for _ in range(args.repeat):
                for mode, env in MODES.items():
                    times[name][mode].append(run(folder, argv, env))
            print(name, summary(times[name]), flush=True)
    report: dict[str, Any] = {
        "protocol": __doc__,
        "size": args.size,
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "summary": {name: summary(runs) for name, runs in times.items()},
        "runs": times,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


def summary(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Median CPU seconds and peak RSS of each mode."""
    return {
        mode: {
            "cpu_s": round(statistics.median(r["cpu_s"] for r in items), 2),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in items), 1),
        }
        for mode, items in runs.items()
    }


if __name__ == "__main__":
    main()
