"""The ``invimg`` console script, kept import-light so that Ctrl-C is caught early.

Importing the command line pulls in Typer and Rich (about 0.2 s) before any
``try`` of :func:`invimg.interfaces.cli.main` runs; a Ctrl-C in that window
used to print a traceback. This module imports nothing heavy, so only the
interpreter's own start-up (before any invimg code exists) is left uncovered.
It also tunes the allocator for speed (:mod:`invimg.allocator`) before any
tensor exists, for every command but ``serve`` (a long-running server should
give memory back between requests, not keep it); ``INVIMG_DEFAULT_MALLOC=1``
leaves glibc's defaults.
"""

from __future__ import annotations

import os
import sys

from . import interrupt

INTERRUPTED_EXIT = interrupt.INTERRUPTED_EXIT


def main() -> None:
    """Console-script entry point: the command line, with Ctrl-C as one ``error:`` line."""
    interrupt.reset()
    try:
        if os.environ.get("INVIMG_DEFAULT_MALLOC") != "1" and sys.argv[1:2] != ["serve"]:
            from ..allocator import keep_freed_memory

            keep_freed_memory()
        from .cli import main as run_cli

        run_cli()
    except KeyboardInterrupt:
        interrupt.report()
        sys.exit(INTERRUPTED_EXIT)
