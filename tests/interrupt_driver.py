"""Run the ``invimg`` console script with a real SIGINT sent at a chosen point of the run.

``python interrupt_driver.py PHASE ARG...`` wraps one function of that phase so that
its first call sends this very process SIGINT (what Ctrl-C does), then runs
``invimg ARG...`` through the console script's own entry point. Python raises the
KeyboardInterrupt right after ``os.kill`` returns, so the interrupt lands at the same
spot every time: the test is repeatable, unlike a signal sent after a delay.

Phases: ``start-up`` (while torch is imported), ``options`` (while Typer parses, where
it used to exit silently), ``model-load`` (reading the weights), ``compute`` (inside the
network), ``writing`` (temporary file complete, not yet in place), ``published`` (the
output just put in place) and ``moving`` (inpaint between moving two samples into
an existing folder).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def _interrupt() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def _once(func: Callable[..., Any], call: int = 1) -> Callable[..., Any]:
    """``func``, whose ``call``-th call (the first by default) is preceded by a SIGINT."""
    calls: list[bool] = []

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(True)
        if len(calls) == call:
            _interrupt()
        return func(*args, **kwargs)

    return wrapper


def _first_of(func: Callable[..., Any], fired: list[bool]) -> Callable[..., Any]:
    """``func``, preceded by a SIGINT if no function sharing ``fired`` has sent one yet."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not fired:
            fired.append(True)
            _interrupt()
        return func(*args, **kwargs)

    return wrapper


class _InterruptImportOf:
    """A meta-path finder that interrupts the first import of ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, name: str, *args: object) -> None:
        if name == self.name:
            sys.meta_path.remove(self)
            _interrupt()


def _arm(phase: str) -> None:
    if phase == "start-up":
        sys.meta_path.insert(0, _InterruptImportOf("torch"))
    elif phase == "options":
        from invimg.interfaces import cli

        group = cli._OneLineErrors
        group.make_context = _once(group.make_context)
    elif phase == "model-load":
        from invimg.zoo import cards as registry

        registry.load_file = _once(registry.load_file)
    elif phase == "compute":  # the first network pass, whichever backend runs it
        from invimg.inference import runtime

        fired: list[bool] = []
        runtime._eager = _first_of(runtime._eager, fired)
        runtime._session = _first_of(runtime._session, fired)
    elif phase == "writing":
        from invimg.io import writing

        writing._publish = _once(writing._publish)
    elif phase == "published":
        from invimg.io import writing

        writing._fsync_directory = _once(writing._fsync_directory)
    elif phase == "moving":
        from invimg.interfaces import cli_inpainting

        cli_inpainting.os = _OsWithInterruptedReplace()
    else:
        raise SystemExit(f"unknown phase {phase!r}")


class _OsWithInterruptedReplace:
    """``os`` for the inpaint command, whose second ``replace`` is preceded by a SIGINT:
    one sample is already in the folder, the others are not."""

    def __init__(self) -> None:
        self.replace = _once(os.replace, call=2)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def main() -> None:
    phase, *args = sys.argv[1:]
    # A shell starts background jobs with SIGINT ignored, and Python then installs no
    # handler: give this process what a terminal's foreground job has, so the test
    # means the same under `make test &` or a CI runner as at a prompt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _arm(phase)
    sys.argv = ["invimg", *args]
    from invimg.interfaces.entry import main as invimg_main

    invimg_main()


if __name__ == "__main__":
    main()
