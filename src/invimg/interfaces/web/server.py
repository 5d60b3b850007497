"""Start the page: loopback by default, bounded queue, private temporary folder, no telemetry.

* Host: a loopback address (``127.0.0.1``, ``::1``, ``localhost``) unless
  ``allow_remote``; then a warning, because the page has no authentication and
  anyone who reaches the port can use this machine's CPU.
* Nothing phones home: Gradio's analytics and version check are off, no share
  link is made, no monitoring endpoint, no MCP server, no server-side rendering
  (node), and the default theme's fonts are served locally.
* Console: Gradio's own start-up lines are off (they advise ``share=True``,
  which a command-line user cannot pass); ``serve`` prints the page's address
  itself, and Ctrl-C ends it like any other command (exit 130).
* Temporary files: Gradio keeps uploads and results in ``GRADIO_TEMP_DIR``; the
  server points it at a fresh private folder (mode 0700) and removes that
  folder on exit. Meanwhile Gradio's ``delete_cache`` deletes each file
  ``keep_files`` seconds after it was made.
"""

from __future__ import annotations

import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from ...errors import UsageError
from .options import ServeOptions, check_options, private_temp_dir
from .page import build_page


def build_app(options: ServeOptions) -> Any:
    """The page with its queue set up (not launched); ``GRADIO_TEMP_DIR`` must be set first."""
    demo = build_page(options)
    return demo.queue(max_size=options.queue_size, default_concurrency_limit=options.concurrency)


def launch_options(options: ServeOptions) -> dict[str, Any]:
    """Keyword arguments of ``Blocks.launch``: the limits and everything that stays offline."""
    return {
        "server_name": options.host,
        "server_port": options.port,
        "max_file_size": options.limits.max_upload_bytes,
        "share": False,
        "show_error": True,  # Gradio's own refusals (e.g. upload size) as a message
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "footer_links": ["api"],
        "run_history": False,
        "inbrowser": False,
        "quiet": True,  # no "set share=True" advice: the address is printed by serve()
        "prevent_thread_lock": True,  # serve() waits itself, so Ctrl-C reaches the CLI
    }


def _wait_until_closed(demo: Any) -> None:
    """Block until the server stops (Ctrl-C or SIGTERM arrive here as exceptions)."""
    while demo.is_running:
        time.sleep(0.2)


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Make ``kill`` (SIGTERM) stop the server like Ctrl-C: through the clean-up, not around it."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals to whoever owns them
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(options: ServeOptions) -> None:
    """Serve the page until interrupted (Ctrl-C), then delete every temporary file.

    The host is checked by the caller (:func:`~.options.check_host`), which
    may warn; ``invimg serve`` does it before Gradio is imported.
    """
    check_options(options)
    warnings.filterwarnings("always", category=UserWarning)  # every request hears its own
    with private_temp_dir(), _stop_on_sigterm():
        demo = build_app(options)
        try:
            _launch(demo, options)
            print(f"serving the page on {demo.local_url} (Ctrl-C stops it)", flush=True)
            _wait_until_closed(demo)
        finally:
            demo.close(verbose=False)


def _launch(demo: Any, options: ServeOptions) -> None:
    """Start the server in its threads; a host or port we cannot have is one line."""
    try:
        demo.launch(**launch_options(options))
    except OSError as exc:  # taken since check_port, or a host that is not ours
        reason = "the port is in use" if "empty port" in str(exc) else str(exc)
        raise UsageError(
            f"cannot listen on {options.host}:{options.port}: {reason}; choose another --port"
        ) from None
