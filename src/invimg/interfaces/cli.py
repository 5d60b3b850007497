"""The ``invimg`` command line. Each task module adds its commands to ``app``.

Exit codes: 0 success; 1 other error; 2 usage error (bad options); 3 unusable
input image; 4 output exists (use ``--force``); 5 model/weights problem;
6 bad config; 7 payload problem.
"""

from __future__ import annotations

import importlib

import typer

from .common import user_errors

app = typer.Typer(
    name="invimg",
    help="Invertible and inverse imaging: hide images in images, invertible rescaling, and more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Invertible and inverse imaging: hide images in images, invertible rescaling, and more."""


# Task command modules register themselves on `app` when imported.
_COMMAND_MODULES = (
    "invimg.interfaces.cli_models",
    "invimg.interfaces.cli_demo",
    "invimg.interfaces.cli_train",
    "invimg.interfaces.cli_hiding",
    "invimg.interfaces.cli_rescaling",
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
    _register_commands()
    app()


__all__ = ["app", "main", "user_errors"]
