"""Tab "Hide data": Embed (cover + message or file -> stego) and Extract (stego -> payload).

The page calls what ``invimg embed`` / ``invimg extract`` call
(:mod:`invimg.datahiding.api`) and measures the stego as
``benchmarks/eval_datahiding.py`` does (:func:`invimg.datahiding.evaluation.fidelity`:
PSNR/SSIM on the BT.601 luminance, PSNR on CIE L*, mean CIEDE2000 ΔE). As
with the CLI, the stego PNG carries no invimg metadata (a stego must not
announce itself), so Extract uses the model chosen on the page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gradio as gr

from ...errors import PayloadError, UsageError
from .page import Capability, Page
from .parts import (
    Limits,
    as_uint8,
    files_output,
    has_module,
    image_input,
    image_output,
    new_result_folder,
    on_page,
    pick,
    read_upload,
    report,
    report_output,
    save_result,
    shipped,
    stem,
    upload_path,
)

PROTOCOL = (
    "Stego vs cover, both 8-bit: PSNR/SSIM on the BT.601 luminance Y (Steg-cINN keeps the "
    "cover's lightness and writes into its colours), as benchmarks/eval_datahiding.py measures."
)
ENCRYPTED = "Encrypted with the password."
NOT_ENCRYPTED = "No password: anyone with invimg can read it."
#: Name of a payload saved without a usable name of its own.
UNNAMED = "payload.bin"


def models() -> list[str]:
    """Shipped Steg-cINN models."""
    return shipped(lambda card: card.data.get("architecture") == "steg-cinn")


def available() -> bool:
    return has_module("invimg.datahiding") and bool(models())


def _password(text: str | None) -> str | None:
    """An empty password box means no password (as leaving out ``--password``)."""
    return text or None


@on_page
def cover_capacity(limits: Limits, cover: str | None) -> str:
    """How many bytes the cover holds (no model runs), shown as soon as it is uploaded."""
    from ...datahiding.api import capacity

    if not cover:
        return ""
    image = read_upload(cover, "cover", limits)
    limit = capacity(as_uint8(image))
    bpp = 8 * limit / (image.height * image.width)
    return (
        f"This {image.width}×{image.height} cover holds **{limit:,} bytes** of incompressible "
        f"data ({bpp:.3f} bits per pixel); text usually compresses, so more of it fits."
    )


@on_page
def embed_data(
    limits: Limits,
    model: str,
    cover: str | None,
    message: str | None,
    file: str | None,
    password: str | None,
) -> tuple[Any, ...]:
    """Embed; return the stego, the report and the files."""
    from ...datahiding.api import capacity, embed_with_report
    from ...datahiding.evaluation import fidelity

    payload = _payload(message, file)
    image = read_upload(cover, "cover", limits)
    pixels = as_uint8(image)
    limit = capacity(pixels)
    stego, done = embed_with_report(pixels, payload, _password(password), model=model)
    path = save_result(new_result_folder(), f"{stem(cover, 'cover')}-stego", stego)
    measured = fidelity(pixels, stego)
    what = f"file {payload.name!r}" if payload.kind == "file" else "message"
    extra = [
        f"Hid a {what} of **{len(payload.data):,} bytes** ({done.packed_bytes:,} bytes packed: "
        f"compressed, before encryption and error correction); this cover holds {limit:,} "
        "bytes of incompressible data.",
        f"PSNR on CIE L*: {measured['psnr_lstar']:.2f} dB; mean colour difference "
        f"CIEDE2000 ΔE: {measured['delta_e00']:.2f}. Read-back check: "
        f"{done.margin} spare correctable bytes per block (attempt {done.attempts}, "
        f"{done.corrections} closed-loop corrections).",
        f"Model: {model}. {ENCRYPTED if password else NOT_ENCRYPTED} Send the stego **as the "
        "PNG from Download**: any re-encoding destroys the payload.",
    ]
    return path, report([("stego vs cover", measured)], PROTOCOL, extra), [path]


def _payload(message: str | None, file: str | None) -> Any:
    """The payload the user gave: a message or a file, exactly one."""
    from ...datahiding.payload import Payload

    if bool(message) == bool(file):
        raise UsageError("give a message or a file to hide (one of them)")
    if file:
        if not Path(file).is_file():
            raise UsageError("the file upload has expired; upload it again")
        return Payload(Path(file).read_bytes(), "file", Path(file).name)
    return Payload.from_text(message or "")


@on_page
def extract_data(
    limits: Limits, model: str, stego: str | None, password: str | None
) -> tuple[Any, ...]:
    """Extract; return the message (text payloads), the report and the payload file."""
    from ...datahiding.api import extract_payload

    image = read_upload(stego, "stego", limits)
    if image.format == "JPEG":
        raise PayloadError("the stego is a JPEG: lossy compression destroys payloads")
    payload = extract_payload(as_uint8(image), _password(password), model=model)
    if payload.kind == "text":
        summary = f"A message of {len(payload.data):,} bytes (model {model})."
        return payload.text, report([], "", [summary]), []
    folder = new_result_folder()
    path = folder / safe_name(payload.name)
    path.write_bytes(payload.data)  # a fresh folder of this request: nothing to clobber
    shown = f" {payload.name!r}" if payload.name else ""
    summary = f"A file{shown} of {len(payload.data):,} bytes: download it below (model {model})."
    return "", report([], "", [summary]), [str(path)]


def safe_name(name: str | None) -> str:
    """A harmless file name for a payload's recorded name (it comes from someone else's stego)."""
    base = re.sub(r"[^\w.\- ]", "_", Path((name or "").replace("\\", "/")).name).strip(" .")
    return base[:100] or UNNAMED


def build(page: Page) -> None:
    """The Embed and Extract sub-tabs."""
    from ...datahiding.api import DEFAULT_MODEL

    names = models()
    default = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
    _build_embed(page, names, default)
    _build_extract(page, names, default)


def _build_embed(page: Page, names: list[str], default: str) -> None:
    with gr.Tab("Embed"):
        gr.Markdown(
            "Hide a message or a file in a photo's colours; its lightness stays as it was. "
            "With a password the payload is encrypted; without one it is only hidden."
        )
        with gr.Row():
            cover = image_input("Cover", "embed-cover")
            stego = image_output("Stego", "embed-stego")
        capacity = gr.Markdown(elem_id="embed-capacity")
        with gr.Row():
            message = gr.Textbox(label="Message", lines=3, elem_id="embed-message")
            file = gr.File(label="…or a file", type="filepath", elem_id="embed-file")
        with gr.Row():
            password = gr.Textbox(
                label="Password (optional)", type="password", elem_id="embed-password"
            )
            model = gr.Dropdown(names, value=default, label="Model", elem_id="embed-model")
            button = gr.Button("Embed", variant="primary", elem_id="embed-button")
        summary = report_output("embed-report")
        files = files_output("embed-files")

    def show_capacity(upload: Any) -> str:
        return cover_capacity(page.limits, upload_path(upload))

    def run(name: str, cover_upload: Any, text: str, upload: Any, secret: str) -> Any:
        return embed_data(
            page.limits,
            pick(name, names),
            upload_path(cover_upload),
            text,
            upload_path(upload),
            secret,
        )

    cover.change(show_capacity, cover, capacity, preprocess=False, api_visibility="private")
    button.click(
        run, [model, cover, message, file, password], [stego, summary, files], **page.event("embed")
    )


def _build_extract(page: Page, names: list[str], default: str) -> None:
    with gr.Tab("Extract"):
        gr.Markdown("Get back the message or file hidden by Embed (or `invimg embed`).")
        with gr.Row():
            stego = image_input("Stego", "extract-stego")
            message = gr.Textbox(
                label="Message", lines=5, interactive=False, elem_id="extract-message"
            )
        with gr.Row():
            password = gr.Textbox(label="Password", type="password", elem_id="extract-password")
            model = gr.Dropdown(names, value=default, label="Model", elem_id="extract-model")
            button = gr.Button("Extract", variant="primary", elem_id="extract-button")
        summary = report_output("extract-report")
        files = files_output("extract-files")

    def run(name: str, upload: Any, secret: str) -> Any:
        return extract_data(page.limits, pick(name, names), upload_path(upload), secret)

    button.click(run, [model, stego, password], [message, summary, files], **page.event("extract"))


CAPABILITIES = (Capability("Hide data", available, build),)
