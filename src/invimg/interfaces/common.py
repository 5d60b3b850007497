"""Helpers shared by every CLI command: one-line errors, exit codes, warnings, inputs.

Every command reads its images with :func:`read_input`, so every conversion
the reader makes (grey replicated to RGB, transparency composited over white,
a 16-bit image written back with 8 bits, …) reaches the user as one
``warning:`` line, whichever command it is.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ..errors import InvimgError, ModelError, UsageError, one_line
from . import interrupt

if TYPE_CHECKING:  # invimg.io imports torch: not before `main` can catch a Ctrl-C
    from ..io import LoadedImage

F = TypeVar("F", bound=Callable[..., Any])

#: Keys of the metadata that commands write into their PNG outputs.
KEY_TASK, KEY_MODEL = "invimg:task", "invimg:model"


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


def model_ref(spec: str) -> str:
    """What to record in an output's metadata: a shipped name as is, a card as an absolute path.

    A relative card path would stop resolving as soon as the user changes folder.
    """
    from ..zoo.registry import is_card_path

    return str(Path(spec).resolve()) if is_card_path(spec) else spec


def recorded_model(meta: Mapping[str, str], image: Path) -> str | None:
    """The model recorded in ``image``'s metadata, refusing a card that has since gone."""
    from ..io.images import show_path
    from ..zoo.registry import is_card_path

    recorded = meta.get(KEY_MODEL)
    if recorded and is_card_path(recorded) and not os.path.exists(recorded):
        raise ModelError(
            f"{show_path(image)} was made with {recorded}, which no longer exists; pass --model"
        )
    return recorded or None
