"""``invimg serve``: a local web page with one tab per capability (Gradio).

Why Gradio: it is what this field's demos use (HiNet, IRN and PD-GAN demos
are Gradio Spaces), it gives upload widgets, a job queue with a concurrency
limit, an upload-size limit and a scheduled cache clean-up out of the box, and
its page can be driven by a real browser in tests. The page is a thin layer:
every number and every image comes from the same public functions as the CLI
(``invimg.hide`` …, :func:`invimg.metrics.quality_report`), and results are
written by :func:`invimg.io.write_image` with the CLI's metadata, so a stego
downloaded from the page reveals with ``invimg reveal`` and vice versa.

Adding a tab for a capability (the pattern every tab follows)
-------------------------------------------------------------
1. Write ``invimg/interfaces/web/<capability>_tab.py`` with

   * handlers: plain functions ``(limits, model, *upload_paths) -> outputs``
     decorated with :func:`~.parts.on_page`. They read uploads with
     :func:`~.parts.read_upload` (size and pixel limits, conversions become
     notes), call the capability's public API (imported inside the function,
     as the CLI does), write results with :func:`~.parts.save_result`, and
     describe them with :func:`~.parts.report` (PSNR/SSIM from
     :func:`invimg.metrics.quality_report`, or any other measured rows).
     :class:`~invimg.errors.InvimgError` becomes one ``gr.Error`` line, warnings
     become notes on the page; nothing else is computed here.
   * ``available() -> bool``: whether the capability's package exists *and*
     a shipped model for it does (:func:`~.parts.shipped`); otherwise its
     tab is not shown.
   * ``build(page: Page)``: the Gradio layout inside the capability's tab
     (sub-tabs per direction, e.g. Hide / Reveal), wiring each button to a
     handler with ``**page.event(api_name)`` (shared queue and concurrency
     limit for everything that runs a model; inputs arrive unpreprocessed, so
     the button's function passes uploads through :func:`~.parts.upload_path`
     and dropdown values through :func:`~.parts.pick`).
   * ``CAPABILITIES = (Capability(title, available, build),)`` (a module may
     hold several, as ``rescaling_tab`` does for rescaling and colour).

2. Name the module as the task's ``web_tab`` in the task table
   (:mod:`invimg.tasks`); :data:`~.page.TAB_MODULES` follows it. A tab calls
   the task API only (its metadata helpers included), never a ``cli_*``
   module: ``tests/test_architecture.py`` checks it.
3. Add a browser round trip for it to ``tests/test_web_browser.py`` and a
   screenshot to ``docs/web/``.

Handlers take upload *paths* (the uploaded file untouched, so a stego's PNG
metadata and exact pixels survive) and return file paths of PNGs written into
Gradio's cache, so each result is stored once and shown and downloaded from
the same file.

Machine protection (see :mod:`.server`): loopback only unless
``--allow-remote``; upload size limit (Gradio refuses the upload) and pixel
limit (checked from the header before decoding); a bounded job queue and one
shared concurrency limit for model calls; uploads and results live in a
private temporary folder, are deleted ``--keep-files`` seconds after they
were made (Gradio's ``delete_cache``), and the folder is removed on exit. An
upload that waited in the queue longer than that is gone: the page asks for it
again in one line.
"""

from __future__ import annotations

import os

#: Environment that keeps Gradio and the Hugging Face hub library (which Gradio
#: imports) off the network; set before either is imported.
QUIET_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
}
os.environ.update(QUIET_ENVIRONMENT)

from typing import Any  # noqa: E402

from .options import (  # noqa: E402
    Limits,
    ServeOptions,
    check_host,
    check_options,
    check_port,
    private_temp_dir,
)

#: Imported on first use: they import Gradio (seconds).
_LAZY = {"build_app": "server", "serve": "server", "build_page": "page"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "QUIET_ENVIRONMENT",
    "Limits",
    "ServeOptions",
    "build_app",
    "build_page",
    "check_host",
    "check_options",
    "check_port",
    "private_temp_dir",
    "serve",
]
