"""Tabs "Rescale" (Downscale / Upscale, IRN) and "Colour" (Decolorize / Colorize, IRN-Color).

Downscale also restores the image from the 8-bit small PNG it just made and
measures it against the original (Y channel and RGB, border crop = scale: the
IRN protocol of ``benchmarks/eval_rescaling.py``), so the user sees what the
receiver of the small image will get back. The small PNG carries the CLI's
metadata (model, scale, original size): ``invimg upscale`` and the Upscale
sub-tab restore exactly the original dimensions without options.

The Colour tab is shown only when a colour (``irn-color``) model is shipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from ...errors import ModelError
from .page import Capability, Page
from .parts import (
    Limits,
    as_uint8,
    check_result_size,
    files_output,
    image_input,
    image_output,
    measure,
    new_result_folder,
    note,
    on_page,
    optional_upload,
    pick,
    read_upload,
    report,
    report_output,
    save_result,
    shipped,
    stem,
    upload_path,
)

#: Dropdown value meaning "the model recorded in the image's metadata".
RECORDED = "recorded"
RESCALE_PROTOCOL = (
    "Measured on 8-bit PNG images with invimg.metrics.quality_report, border crop = scale, "
    "z as the model's card chooses: the protocol of benchmarks/eval_rescaling.py (IRN "
    "compares Y)."
)
COLOUR_PROTOCOL = (
    "Measured on 8-bit PNG images with invimg.metrics.quality_report, no border crop, z = 0."
)


def rescaling_models() -> list[str]:
    """Shipped rescaling models (IRN, and IRN with JPEG recovery)."""
    return shipped(lambda card: card.data.get("architecture") in ("irn", "irn-jpeg"))


def colour_models() -> list[str]:
    """Shipped colour models (IRN-Color)."""
    return shipped(lambda card: card.data.get("architecture") == "irn-color")


# -- handlers -----------------------------------------------------------------------------


@on_page
def downscale_image(limits: Limits, model: str, image: str | None) -> tuple[Any, ...]:
    """Downscale; return the small image, the image restored from it, the report, the files."""
    from ...rescaling.api import downscale, lr_metadata, rescaling_model, upscale

    original = read_upload(image, "image", limits)
    net = rescaling_model(model)
    s, h, w = net.scale, original.height, original.width
    small = downscale(original.pixels, model=net)
    restored = upscale(small, model=net, size=(h, w))
    meta = lr_metadata(model, net, (h, w))
    folder = new_result_folder()
    small_path = save_result(folder, f"{stem(image, 'image')}-x{s}", small, meta)
    restored_path = save_result(folder, f"{stem(image, 'image')}-restored", restored)
    rows = [(f"restored from the ×{s} image vs original", measure(as_uint8(original), restored, s))]
    extra = [f"Model: {model}. Small image: {small.shape[1]}×{small.shape[0]} from {w}×{h}."]
    return small_path, restored_path, report(rows, RESCALE_PROTOCOL, extra), [small_path]


@on_page
def upscale_image(
    limits: Limits, model: str, image: str | None, reference: str | None
) -> tuple[Any, ...]:
    """Upscale an image made by Downscale; measured when the original is given."""
    from ...io.metadata import task_metadata
    from ...rescaling.api import (
        recorded_rescaling_model,
        recorded_size,
        rescaling_model,
        upscale,
    )

    small = read_upload(image, "small image", limits)
    assert image is not None  # read_upload refused a missing upload
    meta = task_metadata(Path(image), "rescaling")
    if not meta:
        note(
            "the image was not made by Downscale (`invimg downscale`): IRN can only restore "
            "detail that its own downscaling hid, so this is not super-resolution"
        )
    spec = recorded_rescaling_model(meta, Path(image), None) if model == RECORDED else model
    net = rescaling_model(spec)
    size = recorded_size(meta, small.pixels.shape[:2], net.scale)
    h, w = size or (small.height * net.scale, small.width * net.scale)
    check_result_size(h, w, limits, "the restored image")
    restored = upscale(small.pixels, model=net, size=size)
    path = save_result(new_result_folder(), f"{stem(image, 'image')}-upscaled", restored)
    rows = _measured(optional_upload(reference, "original", limits), restored, net.scale)
    extra = [f"Model: {spec}; ×{net.scale} to {w}×{h}."]
    return path, report(rows, RESCALE_PROTOCOL, extra), [path]


@on_page
def decolorize_image(limits: Limits, model: str, image: str | None) -> tuple[Any, ...]:
    """Make the grey image; return it, the colours restored from it, the report, the files."""
    from ...rescaling.api import colorize, decolorize, grey_metadata, rescaling_model

    original = read_upload(image, "image", limits)
    net = rescaling_model(model, "color")
    grey = np.repeat(decolorize(original.pixels, model=net)[..., None], 3, axis=2)
    restored = colorize(grey, model=net)
    meta = grey_metadata(model)
    folder = new_result_folder()
    grey_path = save_result(folder, f"{stem(image, 'image')}-grey", grey, meta)
    restored_path = save_result(folder, f"{stem(image, 'image')}-recoloured", restored)
    rows = [
        ("colours restored from the grey image vs original", measure(as_uint8(original), restored))
    ]
    return (
        grey_path,
        restored_path,
        report(rows, COLOUR_PROTOCOL, [f"Model: {model}."]),
        [grey_path],
    )


@on_page
def colorize_image(
    limits: Limits, model: str, image: str | None, reference: str | None
) -> tuple[Any, ...]:
    """Restore the colours of a grey image made by Decolorize; measured when given the original."""
    from ...io.metadata import recorded_model, task_metadata
    from ...rescaling.api import colorize, rescaling_model

    grey = read_upload(image, "grey image", limits)
    assert image is not None  # read_upload refused a missing upload
    meta = task_metadata(Path(image), "decolorization")
    if not meta:
        note(
            "the image was not made by Decolorize (`invimg decolorize`): its colours were "
            "never stored, so they will be guessed, not restored"
        )
    spec = model if model != RECORDED else recorded_model(meta, Path(image)) or _default_colour()
    restored = colorize(grey.pixels, model=rescaling_model(spec, "color"))
    path = save_result(new_result_folder(), f"{stem(image, 'image')}-colour", restored)
    rows = _measured(optional_upload(reference, "original", limits), restored, 0)
    return path, report(rows, COLOUR_PROTOCOL, [f"Model: {spec}."]), [path]


def _measured(
    reference: np.ndarray | None, result: np.ndarray, crop: int
) -> list[tuple[str, dict[str, float]]]:
    if reference is None:
        note("give the original to measure PSNR/SSIM")
        return []
    if reference.shape != result.shape:
        note(
            f"the original is {reference.shape[1]}×{reference.shape[0]}, the result "
            f"{result.shape[1]}×{result.shape[0]}: not measured"
        )
        return []
    return [("result vs original", measure(reference, result, crop))]


def _default_colour() -> str:
    names = colour_models()
    if not names:
        raise ModelError("no colour model is shipped; choose one")
    return "irn-color" if "irn-color" in names else names[0]


# -- layout ---------------------------------------------------------------------------------


def build_rescaling(page: Page) -> None:
    """The Downscale and Upscale sub-tabs."""
    from ...rescaling.api import default_rescaling_model

    names = rescaling_models()
    try:
        default = default_rescaling_model()
    except ModelError:
        default = names[0]
    _pair(
        page,
        names,
        default if default in names else names[0],
        ("Downscale", "downscale", downscale_image, "Small image", "Restored from the small image"),
        ("Upscale", "upscale", upscale_image, "Small image (from Downscale)", "Upscaled"),
        "Make a smaller image that IRN can enlarge back to (nearly) the original. "
        "Keep it as the PNG from Download: its metadata tells Upscale the original size.",
    )


def build_colour(page: Page) -> None:
    """The Decolorize and Colorize sub-tabs."""
    names = colour_models()
    _pair(
        page,
        names,
        _default_colour(),
        ("Decolorize", "decolorize", decolorize_image, "Grey image", "Colours restored"),
        ("Colorize", "colorize", colorize_image, "Grey image (from Decolorize)", "Colour image"),
        "Make a grey image that carries its colours; Colorize brings them back. "
        "Keep it as the PNG from Download.",
    )


Spec = tuple[str, str, Any, str, str]  # tab title, api/elem name, handler, two labels


def _pair(page: Page, names: list[str], default: str, forward: Spec, back: Spec, text: str) -> None:
    """Two sub-tabs: forward (image -> result + round trip) and back (result -> image)."""
    _forward_tab(page, names, default, forward, text)
    _back_tab(page, names, back)


def _forward_tab(page: Page, names: list[str], default: str, spec: Spec, text: str) -> None:
    title, key, handler, result_label, check_label = spec
    with gr.Tab(title):
        gr.Markdown(text)
        with gr.Row():
            image = image_input("Image", f"{key}-image")
            result = image_output(result_label, f"{key}-result")
            check = image_output(check_label, f"{key}-check")
        with gr.Row():
            model = gr.Dropdown(names, value=default, label="Model", elem_id=f"{key}-model")
            button = gr.Button(title, variant="primary", elem_id=f"{key}-button")
        summary = report_output(f"{key}-report")
        files = files_output(f"{key}-files")

    def run(model_name: str, upload: Any) -> Any:
        return handler(page.limits, pick(model_name, names), upload_path(upload))

    button.click(run, [model, image], [result, check, summary, files], **page.event(key))


def _back_tab(page: Page, names: list[str], spec: Spec) -> None:
    title, key, handler, input_label, result_label = spec
    with gr.Tab(title):
        with gr.Row():
            image = image_input(input_label, f"{key}-image")
            reference = image_input("Original (optional: to measure)", f"{key}-reference")
            result = image_output(result_label, f"{key}-result")
        with gr.Row():
            choices = [("as recorded in the image", RECORDED), *((n, n) for n in names)]
            model = gr.Dropdown(choices, value=RECORDED, label="Model", elem_id=f"{key}-model")
            button = gr.Button(title, variant="primary", elem_id=f"{key}-button")
        summary = report_output(f"{key}-report")
        files = files_output(f"{key}-files")

    def run(model_name: str, upload: Any, reference: Any) -> Any:
        model_name = pick(model_name, [RECORDED, *names])
        return handler(page.limits, model_name, upload_path(upload), upload_path(reference))

    button.click(run, [model, image, reference], [result, summary, files], **page.event(key))


CAPABILITIES = (
    Capability("Rescale", lambda: bool(rescaling_models()), build_rescaling),
    Capability("Colour", lambda: bool(colour_models()), build_colour),
)
