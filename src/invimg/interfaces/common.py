"""Helpers shared by every CLI command: one-line errors, exit codes, warnings, inputs.

Every command reads its images with :func:`read_input`, so every conversion
the reader makes (grey replicated to RGB, transparency composited over white,
a 16-bit image written back with 8 bits, …) reaches the user as one
``warning:`` line, whichever command it is.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ..errors import InvimgError, UsageError, one_line
from . import interrupt

if TYPE_CHECKING:  # invimg.io imports torch: not before `main` can catch a Ctrl-C
    from ..io import LoadedImage

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn :class:`InvimgError` into ``error: …`` on stderr and its exit code.

    Warnings (a resized secret, a converted RGBA image) go to stderr as one
    ``warning: …`` line each, never a Python warning trace. The message is
    flattened onto one line whatever the exception's text holds.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = func(*args, **kwargs)
            except InvimgError as exc:
                _flush_warnings(caught)
                typer.echo(f"error: {one_line(str(exc))}", err=True)
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt:
                interrupt.report()
                raise typer.Exit(interrupt.INTERRUPTED_EXIT) from None
            _flush_warnings(caught)
            return result

    return wrapper  # type: ignore[return-value]


def _flush_warnings(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {one_line(str(w.message))}", file=sys.stderr)


def read_input(path: Path) -> LoadedImage:
    """Read an input image; each conversion made on the way becomes a warning.

    The conversions are those of :mod:`invimg.io.images`; on top of them, a
    16-bit image is used at full precision but every result is an 8-bit file.
    """
    from ..io import read_image
    from ..io.images import show_path

    image = read_image(path)
    shown = show_path(path)
    for note in image.notes:
        warnings.warn(f"{shown}: {note}", UserWarning, stacklevel=2)
    if image.bit_depth > 8:
        warnings.warn(
            f"{shown}: 16-bit image; used at full precision, but the result is written "
            "with 8 bits per channel",
            UserWarning,
            stacklevel=2,
        )
    return image


def check_choice(option: str, value: str, choices: Sequence[str]) -> None:
    """Refuse an option value outside ``choices`` as a usage error (exit 2)."""
    if value not in choices:
        wanted = ", ".join(repr(c) for c in choices)
        raise UsageError(f"{option} must be one of {wanted}, got {value!r}")
