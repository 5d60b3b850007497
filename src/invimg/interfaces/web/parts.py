"""What every tab shares: limits, uploads in, results out, one-line errors, notes, reports.

Nothing here computes a result: reading goes through :func:`invimg.io.read_image`,
writing through :func:`invimg.io.write_image`, measuring through
:func:`invimg.metrics.quality_report`. What this module adds is what a page
needs and a terminal does not: limits per upload, messages that name the
user's file rather than the server's temporary path, and warnings collected per
request (several requests run at once, so :func:`warnings.catch_warnings`, which
is process-wide, cannot be used).
"""

from __future__ import annotations

import functools
import html
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np
from PIL import Image

from ...allocator import release_freed_memory
from ...errors import InputImageError, InvimgError, UsageError, one_line
from ...io import LoadedImage, quantize_8bit, read_image, write_image
from ...metrics import quality_report
from .options import Limits

F = TypeVar("F", bound=Callable[..., Any])
LOG = logging.getLogger("invimg.web")

#: Folder (inside Gradio's cache) that holds one sub-folder of results per request.
RESULTS_FOLDER = "invimg-results"


# -- per-request state: the user's names for uploads, and the notes to show ------------


@dataclass
class _Call:
    names: dict[str, str] = field(default_factory=dict)  # server path -> user's words
    notes: list[str] = field(default_factory=list)

    def unique_notes(self) -> list[str]:
        """The notes in order, each once (a secret resized for hiding and for measuring)."""
        return list(dict.fromkeys(self.notes))

    def say(self, text: str) -> str:
        """``text`` with every server-side upload path replaced by what the user calls it."""
        for path, name in sorted(self.names.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(path, name)
        return one_line(text)


_LOCAL = threading.local()
_ROUTER_LOCK = threading.Lock()


def _current() -> _Call | None:
    return getattr(_LOCAL, "call", None)


def _route_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Send a UserWarning raised inside a request to that request's notes."""
    call = _current()
    if call is not None and issubclass(category, UserWarning):
        call.notes.append(str(message))
        return
    _route_warning.fallback(message, category, filename, lineno, file, line)  # type: ignore[attr-defined]


def _install_warning_router() -> None:
    """Route warnings per thread (once per process; pytest may restore the hook per test).

    The server also makes UserWarnings "always" shown (:func:`.server.serve`):
    by default a warning repeated at the same line is shown once per process,
    so a second user would never hear about their resized secret.
    """
    with _ROUTER_LOCK:
        if warnings.showwarning is _route_warning:
            return
        _route_warning.fallback = warnings.showwarning  # type: ignore[attr-defined]
        warnings.showwarning = _route_warning


@contextmanager
def _request() -> Iterator[_Call]:
    _install_warning_router()
    previous, call = _current(), _Call()
    _LOCAL.call = call
    try:
        yield call
    finally:
        _LOCAL.call = previous


def on_page(func: F) -> F:
    """Run a tab's handler the way a page needs it.

    * :class:`InvimgError` (bad image, too large, wrong model …) becomes one
      ``gr.Error`` line naming the user's file, never a traceback.
    * Any other exception is a bug: its traceback goes to the server log and
      the page says so in one line.
    * Warnings raised meanwhile (a resized secret, a converted image) are shown
      as pop-ups and, through :func:`report`, beside the results.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _request() as call:
            try:
                result = func(*args, **kwargs)
            except gr.Error:
                raise
            except InvimgError as exc:
                raise gr.Error(  # stays until closed: the user must not miss it
                    _text(call.say(str(exc))), duration=None, print_exception=False
                ) from None
            except Exception as exc:
                LOG.exception("internal error in %s", func.__name__)
                raise gr.Error(
                    f"internal error ({type(exc).__name__}); details are in the server's log",
                    duration=None,
                    print_exception=False,
                ) from None
            finally:
                release_freed_memory()
        for text in call.unique_notes():
            gr.Warning(_text(call.say(text)))
        return result

    return wrapper  # type: ignore[return-value]


def note(text: str) -> None:
    """Add a note to the current request (shown beside its results)."""
    warnings.warn(text, UserWarning, stacklevel=2)


# -- uploads ----------------------------------------------------------------------------


def upload_path(value: Any) -> str | None:
    """The server path of an upload as an unpreprocessed event receives it (or a plain path)."""
    if isinstance(value, Mapping):
        path = value.get("path")
        return str(path) if path else None
    return str(value) if value else None


def pick(value: Any, choices: Sequence[str]) -> str:
    """A dropdown's value, checked (unpreprocessed events skip Gradio's own check)."""
    if value not in choices:
        raise gr.Error(_text(f"unknown choice {value!r}; one of: {', '.join(choices)}"))
    return str(value)


def read_upload(path: str | None, label: str, limits: Limits) -> LoadedImage:
    """Read an uploaded image within ``limits``; conversions become notes.

    ``label`` is how the page names the input ("cover", "secret 1"); messages
    use it with the file's own name instead of the server's temporary path.
    """
    if not path:
        raise UsageError(f"no {label} image: upload one first")
    call = _current()
    name = f"{label} ({Path(path).name})"
    if call is not None:
        call.names[str(path)] = name
    if not os.path.isfile(path):
        raise InputImageError(
            f"the {label} upload has expired (uploads are deleted after a while); upload it again"
        )
    size = os.path.getsize(path)
    if size > limits.max_upload_bytes:
        raise InputImageError(
            f"{name} is {_mib(size)}; this page accepts files up to "
            f"{_mib(limits.max_upload_bytes)} (invimg serve --max-upload-mb)"
        )
    _check_pixels(path, name, limits.max_pixels)
    image = read_image(path, max_pixels=limits.max_pixels)
    for text in image.notes:
        note(f"{name}: {text}")
    if image.bit_depth > 8:
        note(f"{name}: 16-bit image; used at full precision, results are 8-bit PNGs")
    return image


def optional_upload(path: str | None, label: str, limits: Limits) -> np.ndarray | None:
    """The 8-bit pixels of an optional upload (a reference to measure against), or None."""
    return as_uint8(read_upload(path, label, limits)) if path else None


def _check_pixels(path: str, name: str, max_pixels: int) -> None:
    """Refuse from the header, with the server option to change in the message."""
    try:
        with Image.open(path) as im:
            width, height = im.size
    except Exception:  # unreadable: read_image reports it with its own message
        return
    if width * height > max_pixels:
        raise InputImageError(
            f"{name} is {width}×{height} = {width * height:,} pixels; this page accepts at "
            f"most {max_pixels:,} (invimg serve --max-pixels)"
        )


def check_result_size(height: int, width: int, limits: Limits, what: str) -> None:
    """Refuse a result larger than the pixel limit (upscaling multiplies the pixels)."""
    if height * width > limits.max_pixels:
        raise InputImageError(
            f"{what} would be {width}×{height} = {width * height:,} pixels; this page makes "
            f"at most {limits.max_pixels:,} (invimg serve --max-pixels)"
        )


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def as_uint8(image: LoadedImage) -> np.ndarray:
    """The 8-bit pixels every result is measured against (what a PNG of it holds)."""
    return quantize_8bit(np.asarray(image.pixels))


def stem(path: str | None, default: str) -> str:
    """The uploaded file's name without suffix, for naming results after it."""
    return Path(path).stem if path else default


# -- results ----------------------------------------------------------------------------


def new_result_folder() -> Path:
    """A fresh folder for one request's results, inside Gradio's cache.

    Files there are served without a copy and deleted by Gradio's
    ``delete_cache`` schedule like uploads; folders it emptied are removed here.
    """
    root = Path(gr.utils.get_upload_folder()) / RESULTS_FOLDER
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        with suppress(OSError):
            old.rmdir()  # only succeeds for an emptied folder
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    return folder


def save_result(
    folder: Path, name: str, pixels: np.ndarray, metadata: Mapping[str, str] | None = None
) -> str:
    """Write a result PNG (atomic, with the CLI's metadata) and return its path."""
    return str(write_image(folder / f"{name}.png", pixels, metadata=metadata))


# -- widgets ----------------------------------------------------------------------------


def image_input(label: str, elem_id: str, visible: bool = True) -> gr.Image:
    """An upload whose file reaches the handler untouched (exact pixels, PNG metadata)."""
    return gr.Image(
        label=label,
        type="filepath",
        image_mode=None,
        sources=["upload", "clipboard"],
        elem_id=elem_id,
        visible=visible,
        height=260,
    )


def image_output(label: str, elem_id: str, visible: bool = True) -> gr.Image:
    """A result shown from the PNG that is also offered for download."""
    return gr.Image(
        label=label,
        type="filepath",
        format="png",
        interactive=False,
        buttons=["download", "fullscreen"],
        elem_id=elem_id,
        visible=visible,
        height=260,
    )


def files_output(elem_id: str) -> gr.File:
    """The result files to download (PNG with the CLI's metadata)."""
    return gr.File(label="Download", file_count="multiple", interactive=False, elem_id=elem_id)


def report_output(elem_id: str) -> gr.Markdown:
    """Where the measured numbers and notes appear."""
    return gr.Markdown(elem_id=elem_id)


# -- reports ----------------------------------------------------------------------------

#: Columns of every PSNR/SSIM table: both protocols the papers use, side by side.
METRIC_COLUMNS = (
    ("psnr_rgb", "PSNR RGB (dB)"),
    ("ssim_rgb", "SSIM RGB"),
    ("psnr_y", "PSNR Y (dB)"),
    ("ssim_y", "SSIM Y"),
)


def measure(reference: np.ndarray, result: np.ndarray, crop_border: int = 0) -> dict[str, float]:
    """The CLI's and benchmarks' measure (:func:`invimg.metrics.quality_report`)."""
    return quality_report(reference, result, crop_border=crop_border)


def report(
    rows: Sequence[tuple[str, Mapping[str, float]]], protocol: str, extra: Sequence[str] = ()
) -> str:
    """Markdown: a table of measured rows, the protocol, extra lines and this request's notes."""
    blocks: list[str] = []
    if rows:
        table = ["| | " + " | ".join(title for _, title in METRIC_COLUMNS) + " |"]
        table.append("|---" * (len(METRIC_COLUMNS) + 1) + "|")
        for what, values in rows:
            cells = " | ".join(_cell(key, values.get(key)) for key, _ in METRIC_COLUMNS)
            table.append(f"| {_text(what)} | {cells} |")
        blocks += ["\n".join(table), f"*{_text(protocol)}*"]
    blocks += [_text(text) for text in extra]
    call = _current()
    if call is not None:
        blocks += [f"⚠ {_text(call.say(text))}" for text in call.unique_notes()]
    return "\n\n".join(blocks)


def _text(text: str) -> str:
    """User-supplied text (file names) made inert in the page's HTML and Markdown."""
    return html.escape(text, quote=False)


def _cell(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if key.startswith("psnr"):
        return "∞" if value == float("inf") else f"{value:.2f}"
    return f"{value:.4f}"


# -- models -----------------------------------------------------------------------------


def shipped(predicate: Callable[[Any], bool]) -> list[str]:
    """Names of the shipped models whose card satisfies ``predicate`` (sorted)."""
    from ...zoo.cards import scan_shipped

    cards, _ = scan_shipped()
    return [card.name for card in cards if predicate(card)]


def has_module(name: str) -> bool:
    """Whether a capability's package exists (tabs of capabilities not yet built are hidden)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
