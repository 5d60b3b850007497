"""The page: one tab per capability that exists and has a shipped model.

:data:`TAB_MODULES` lists the tab modules in page order (the task table's,
:mod:`invimg.tasks`); each exposes
``CAPABILITIES``, a tuple of :class:`Capability` (one per tab). See the package docstring for the
pattern a new tab follows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ...tasks import TASKS
from .options import Limits, ServeOptions

#: Tab modules in page order. A capability whose package or model is missing is skipped.
TAB_MODULES = tuple(spec.web_tab for spec in TASKS if spec.web_tab)
#: All events that run a model share one queue slot pool of this id.
MODEL_QUEUE = "invimg-models"


@dataclass(frozen=True)
class Page:
    """What a tab's ``build`` gets: the limits and how to wire a model-running event."""

    options: ServeOptions

    @property
    def limits(self) -> Limits:
        return self.options.limits

    def event(self, api_name: str) -> dict[str, Any]:
        """Keyword arguments for ``button.click``: one shared, bounded queue for model calls.

        ``preprocess=False``: the handler gets the uploads as Gradio's file
        records (see :func:`~.parts.upload_path`) and reads them itself, so an
        upload that has expired is one clear message rather than Gradio's
        preprocessing error, and no image is decoded twice. Gradio still refuses
        a file outside its upload folder before that.
        """
        return {
            "api_name": api_name,
            "concurrency_id": MODEL_QUEUE,
            "concurrency_limit": self.options.concurrency,
            "preprocess": False,
        }


@dataclass(frozen=True)
class Capability:
    """A tab: its title, whether it can be shown, and how to build its contents."""

    title: str
    available: Callable[[], bool]
    build: Callable[[Page], None]


def capabilities() -> list[Capability]:
    """The capabilities to show, in :data:`TAB_MODULES` order."""
    found = [cap for name in TAB_MODULES for cap in importlib.import_module(name).CAPABILITIES]
    return [cap for cap in found if cap.available()]


def build_page(options: ServeOptions) -> gr.Blocks:
    """The Gradio page (not launched); temporary files follow ``options.keep_files``."""
    page = Page(options)
    keep = options.keep_files
    with gr.Blocks(
        title="invimg",
        analytics_enabled=False,
        delete_cache=(max(1, min(60, keep // 4)), keep),
    ) as demo:
        gr.Markdown(_intro(options))
        shown = capabilities()
        if not shown:
            gr.Markdown("No capability has a shipped model in this installation.")
        with gr.Tabs(elem_id="capabilities"):
            for cap in shown:
                with gr.Tab(cap.title):
                    cap.build(page)
    return demo


def _intro(options: ServeOptions) -> str:
    limits = options.limits
    keep = options.keep_files
    after = f"{keep} s" if keep < 120 else f"{keep / 60:.0f} min"
    return (
        "# invimg\n"
        "Everything runs on this computer. Uploads and results are deleted "
        f"{after} after they are made, and when the server stops. "
        f"Images up to {limits.max_pixels:,} pixels and {limits.max_upload_bytes / 2**20:g} MB."
    )
