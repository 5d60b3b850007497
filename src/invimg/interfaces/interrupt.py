"""Ctrl-C on the command line: exactly one ``error: interrupted`` line and exit 130.

Why one place: a Ctrl-C is caught by whichever layer it lands in (the
console script during imports, :func:`~.common.user_errors` inside a command,
the root group while Typer parses options). Typer itself turns a Ctrl-C that
lands in *its* code into a silent exit 130, so the root group has to print the
line afterwards, unless a command already did. A flag per run says whether it
has been printed. Import-light (no Typer, no torch): the console script uses it
before anything heavy is loaded.

:func:`deferred` holds a Ctrl-C back while a group of files is moved into
place, so that an interrupt lands before or after the group, never inside it.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

INTERRUPTED_EXIT = 130
MESSAGE = "error: interrupted"

_reported = False


def reset() -> None:
    """Start a new run (several runs share one process in tests and notebooks)."""
    global _reported
    _reported = False


def report() -> None:
    """Print the interrupt line, once per run whichever layers see the Ctrl-C."""
    global _reported
    if not _reported:
        _reported = True
        print(MESSAGE, file=sys.stderr, flush=True)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT until the block ends, then raise it as :class:`KeyboardInterrupt`.

    Outside the main thread signals cannot be handled, and the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught:
        raise KeyboardInterrupt
