"""The ``invimg`` command line. Each task module adds its commands to ``app``.

Exit codes: 0 success; 1 other error; 2 usage error (bad options); 3 unusable
input image; 4 output exists (use ``--force``) or cannot be written there;
5 model/weights problem; 6 bad config; 7 payload problem; 130 interrupted
(Ctrl-C).

Every failure is one ``error: …`` line on stderr, usage errors included, and
never a Python traceback. No command leaves a half-written output behind, and
none overwrites an existing file (or one of its inputs) without ``--force``.

Input images (PNG, JPEG, WebP, TIFF, BMP; see :mod:`invimg.io.images`) are
converted to 8-bit-or-better RGB, and each change is one ``warning: …`` line:
grey images are replicated to three channels, transparency is composited over
white, palette/CMYK images are converted, and 16-bit images are used at full
precision but every result is written as an 8-bit PNG (or JPEG).
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import one_line
from ..tasks import TASKS
from . import interrupt
from .common import user_errors

#: Click's exceptions: Typer's vendored copy of click (Typer >= 0.25) or click itself.
_CLICK_ERRORS: Any = sys.modules[typer.BadParameter.__module__]
#: Raised for a bare group (``invimg train``) after the help is printed (click >= 8.2).
_NO_ARGS_IS_HELP: Any = getattr(_CLICK_ERRORS, "NoArgsIsHelpError", ())


class _OneLineErrors(TyperGroup):
    """The root group: click's usage errors become one ``error:`` line, like the rest.

    Click and Typer print a usage block and a framed message for a missing
    argument or an unknown option; invimg prints ``error: <what> (see
    'invimg CMD --help')`` and exits 2 as before.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        run = functools.partial(
            super().main, args, prog_name, complete_var, windows_expand_args=windows_expand_args
        )
        if not standalone_mode:
            return run(standalone_mode=False, **extra)
        interrupt.reset()
        try:
            code = run(standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as exc:
            text = exc.format_message().strip()  # empty when Rich has printed the help
            if text:
                typer.echo(text)
            sys.exit(exc.exit_code)
        except _CLICK_ERRORS.ClickException as exc:
            typer.echo(f"error: {_click_message(exc)}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            interrupt.report()
            sys.exit(interrupt.INTERRUPTED_EXIT)
        if code == interrupt.INTERRUPTED_EXIT:  # Typer exits 130 silently on a Ctrl-C of its own
            interrupt.report()
        sys.exit(code if isinstance(code, int) else 0)


def _click_message(exc: Any) -> str:
    message = one_line(exc.format_message())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, _CLICK_ERRORS.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


app = typer.Typer(
    cls=_OneLineErrors,
    name="invimg",
    help="Invertible and inverse imaging: hide images in images, invertible rescaling, and more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Invertible and inverse imaging: hide images in images, invertible rescaling, and more."""


# Command modules register themselves on `app` when imported: the general ones,
# then each task's (from the task table), then the web server's.
_COMMAND_MODULES = (
    "invimg.interfaces.cli_models",
    "invimg.interfaces.cli_demo",
    "invimg.interfaces.cli_train",
    *(spec.commands for spec in TASKS if spec.commands),
    "invimg.interfaces.cli_serve",
)


def _register_commands() -> None:
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def main() -> None:
    """Console-script entry point."""
    interrupt.reset()
    try:
        _register_commands()  # imports torch: seconds in which Ctrl-C may come
        app()
    except KeyboardInterrupt:
        interrupt.report()
        sys.exit(interrupt.INTERRUPTED_EXIT)


__all__ = ["app", "main", "user_errors"]
