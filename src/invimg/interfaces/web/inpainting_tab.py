"""Tab "Inpaint": several plausible fillings of a hole drawn on a photo (PD-GAN).

The page calls what ``invimg inpaint`` calls (:func:`invimg.inpainting.api.inpaint`
and its ``contact_sheet``) and writes the same files with the same metadata
(task, model, seed). The hole is painted on the photo in the editor (any
stroke is hole) or given as a mask image of the photo's size (white = hole,
as for the CLI); an uploaded mask wins over strokes. Known pixels are kept
exactly: they are the 8-bit pixels the editor sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from ...errors import InputImageError, UsageError
from .page import Capability, Page
from .parts import (
    Limits,
    as_uint8,
    files_output,
    has_module,
    image_output,
    new_result_folder,
    on_page,
    pick,
    read_upload,
    report,
    report_output,
    save_result,
    shipped,
    upload_path,
)

#: Samples per request (the CLI allows up to 64; a shared page fewer).
MAX_SAMPLES = 8


def models() -> list[str]:
    """Shipped PD-GAN models."""
    return shipped(lambda card: card.data.get("architecture") == "pdgan")


def available() -> bool:
    return has_module("invimg.inpainting") and bool(models())


@on_page
def inpaint_image(
    limits: Limits,
    model: str,
    image: str | None,
    strokes: Sequence[str | None],
    mask: str | None,
    n: int = 4,
    seed: int = 0,
) -> tuple[Any, ...]:
    """Inpaint; return the samples (gallery), the contact sheet, the report and the files."""
    from ...inpainting.api import (
        SHEET_NAME,
        check_hole,
        contact_sheet,
        inpaint,
        sample_metadata,
        sample_names,
    )
    from ...inpainting.masks import load_mask

    if not 1 <= n <= MAX_SAMPLES:
        raise UsageError(f"samples must be from 1 to {MAX_SAMPLES} on this page, got {n}")
    photo = read_upload(image, "image", limits)
    pixels = as_uint8(photo)
    size = (photo.height, photo.width)
    if mask:
        hole = load_mask(as_uint8(read_upload(mask, "mask", limits)), size, name="the mask")
    else:
        hole = painted_hole(strokes, size)
    check_hole(hole)
    samples = inpaint(pixels, hole, n=n, seed=seed, model=model)
    sheet = contact_sheet(pixels, hole, samples)
    meta = sample_metadata(model, seed)
    folder = new_result_folder()
    paths = [  # the CLI's names (the editor sends the photo as "background.png")
        save_result(folder, name.removesuffix(".png"), out, {**meta, "invimg:file": name})
        for name, out in zip(sample_names(n), samples)
    ]
    sheet_meta = {**meta, "invimg:file": SHEET_NAME}
    sheet_path = save_result(folder, SHEET_NAME.removesuffix(".png"), sheet, sheet_meta)
    extra = [
        f"{n} sample(s), seed {seed} (sample i of a seed is the same whatever N is); "
        f"hole {100 * hole.mean():.1f}% of {photo.width}×{photo.height}; model {model}.",
        "Known pixels are kept exactly; only the hole is drawn.",
    ]
    return paths, sheet_path, report([], "", extra), [*paths, sheet_path]


def painted_hole(strokes: Sequence[str | None], size: tuple[int, int]) -> np.ndarray:
    """The editor's brush layers as a hole: every painted (non-transparent) pixel."""
    hole = np.zeros(size, dtype=bool)
    for path in strokes:
        if not path:
            continue
        with Image.open(path) as layer:
            alpha = np.asarray(layer.convert("RGBA"))[..., 3]
        if alpha.shape != size:
            raise InputImageError(
                f"the painted layer is {alpha.shape[1]}×{alpha.shape[0]} but the image is "
                f"{size[1]}×{size[0]}; paint on the image again"
            )
        hole |= alpha > 0
    if not hole.any():
        raise UsageError("no hole: paint over what to fill, or upload a mask (white = hole)")
    return hole


def editor_paths(value: Any) -> tuple[str | None, list[str | None]]:
    """The background (the photo) and brush layers of an unpreprocessed editor value."""
    if not isinstance(value, Mapping):
        return None, []
    layers = value.get("layers") or []
    return upload_path(value.get("background")), [upload_path(layer) for layer in layers]


def build(page: Page) -> None:
    """One panel: photo with a brush, optional mask, N and seed; gallery and contact sheet."""
    from ...inpainting.api import DEFAULT_MODEL

    names = models()
    default = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
    gr.Markdown(
        "Upload a photo and paint over what to remove (or upload a mask of the same size, "
        "white = hole). Each sample is a different plausible filling; the same seed gives "
        "the same samples."
    )
    with gr.Row():
        editor = gr.ImageEditor(
            label="Photo (paint the hole)",
            type="filepath",
            format="png",
            image_mode="RGBA",
            sources=["upload", "clipboard"],
            brush=gr.Brush(colors=["#ffffff"], color_mode="fixed"),
            transforms=(),
            layers=False,
            elem_id="inpaint-editor",
            height=360,
        )
        mask = gr.Image(
            label="Mask (optional, white = hole)",
            type="filepath",
            image_mode=None,
            sources=["upload", "clipboard"],
            elem_id="inpaint-mask",
            height=360,
        )
    with gr.Row():
        count = gr.Slider(1, MAX_SAMPLES, value=4, step=1, label="Samples", elem_id="inpaint-n")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="inpaint-seed")
        model = gr.Dropdown(names, value=default, label="Model", elem_id="inpaint-model")
        button = gr.Button("Inpaint", variant="primary", elem_id="inpaint-button")
    gallery = gr.Gallery(
        label="Samples", columns=4, format="png", interactive=False, elem_id="inpaint-gallery"
    )
    sheet = image_output("Contact sheet", "inpaint-sheet")
    summary = report_output("inpaint-report")
    files = files_output("inpaint-files")

    def run(name: str, value: Any, mask_upload: Any, n: Any, start: Any) -> Any:
        background, strokes = editor_paths(value)
        return inpaint_image(
            page.limits,
            pick(name, names),
            background,
            strokes,
            upload_path(mask_upload),
            int(n or 1),
            int(start or 0),
        )

    button.click(
        run,
        [model, editor, mask, count, seed],
        [gallery, sheet, summary, files],
        **page.event("inpaint"),
    )


CAPABILITIES = (Capability("Inpaint", available, build),)
