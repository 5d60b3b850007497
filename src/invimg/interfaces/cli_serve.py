"""``invimg serve``: the local web page (see :mod:`invimg.interfaces.web`).

Gradio is imported only when the command runs, so ``invimg --help`` and every
other command stay fast.
"""

from __future__ import annotations

import importlib.util

import typer

from ..errors import UsageError
from .cli import app
from .common import user_errors

_LIMITS = "Limits that protect this machine"
WEB_EXTRA = "pip install 'invimg[web]'"


def require_web_extra() -> None:
    """Refuse in milliseconds, with the command that fixes it, where Gradio is not installed.

    Gradio is an optional extra: without it ``import gradio`` would end the
    command with a ``ModuleNotFoundError`` traceback.
    """
    try:
        found = importlib.util.find_spec("gradio") is not None
    except (ImportError, ValueError):  # a broken or blocked installation
        found = False
    if not found:
        raise UsageError(f"invimg serve needs the web extra (Gradio is not installed): {WEB_EXTRA}")


def _missing_dependency(exc: ModuleNotFoundError) -> UsageError:
    """Gradio present but one of its own dependencies missing: the same advice."""
    return UsageError(f"invimg serve needs the web extra ({exc.name} is missing): {WEB_EXTRA}")


@app.command("serve")
@user_errors
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback)."),
    port: int = typer.Option(7860, "--port", help="Port to listen on."),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Allow a --host that other machines can reach (the page has no login).",
    ),
    max_upload_mb: float = typer.Option(
        32, "--max-upload-mb", help="Largest upload in MB.", rich_help_panel=_LIMITS
    ),
    max_pixels: int = typer.Option(
        2048 * 2048,
        "--max-pixels",
        help="Largest image (input or result) in pixels.",
        rich_help_panel=_LIMITS,
    ),
    concurrency: int = typer.Option(
        1,
        "--concurrency",
        help="Model calls running at once (each uses every core).",
        rich_help_panel=_LIMITS,
    ),
    queue_size: int = typer.Option(
        16, "--queue-size", help="Requests that may wait; beyond, 'busy'.", rich_help_panel=_LIMITS
    ),
    keep_files: int = typer.Option(
        600,
        "--keep-files",
        help="Seconds uploads and results are kept before deletion.",
        rich_help_panel=_LIMITS,
    ),
) -> None:
    """Serve a web page with one tab per capability, on this machine only by default."""
    require_web_extra()
    from .web import Limits, ServeOptions, check_host, check_options, check_port, private_temp_dir

    limits = Limits(max_upload_bytes=int(max_upload_mb * 2**20), max_pixels=max_pixels)
    options = ServeOptions(
        host=host,
        port=port,
        allow_remote=allow_remote,
        limits=limits,
        concurrency=concurrency,
        queue_size=queue_size,
        keep_files=keep_files,
    )
    check_options(options)  # in milliseconds, before Gradio is imported (seconds)
    check_host(host, allow_remote)
    check_port(host, port)
    with private_temp_dir():  # before Gradio is imported: it fixes some folders at import
        try:
            from .web.server import serve
        except ModuleNotFoundError as exc:
            if (exc.name or "invimg").partition(".")[0] == "invimg":
                raise
            raise _missing_dependency(exc) from None
        serve(options)
