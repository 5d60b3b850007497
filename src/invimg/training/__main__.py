"""``python -m invimg.training CONFIG [--set key=value ...] [--import MODULE ...]``.

The same command runs one process or, under ``torchrun``, one rank of a
distributed job::

    torchrun --nproc_per_node=4 -m invimg.training run.yaml --set optim.lr=1e-4
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from invimg.errors import InvimgError

from .registry import import_task_module
from .trainer import run_training


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train, and turn user errors into one line and an exit code."""
    parser = argparse.ArgumentParser(prog="python -m invimg.training", description=__doc__)
    parser.add_argument("config", help="training YAML file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=1e-4 (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--import", dest="modules", action="append", default=[], metavar="MODULE",
        help="import MODULE first so that it can register extra tasks (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", "0") or 0)
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING, format="%(message)s")
    try:
        for module in args.modules:
            if not import_task_module(module):
                raise SystemExit(f"error: cannot import task module {module!r}")
        out = run_training(args.config, args.overrides)
    except InvimgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if rank == 0:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
