"""Tab "Invert features": what does HOG, dense SIFT or a layer of a CNN remember of an image?

The page runs :func:`invimg.inversion.api.run_inversion` (the function behind
``invimg invert``) on the upload and shows the original beside the
reconstruction, with the error ``invimg invert`` prints: the IJCV relative
error ‖Φ(x*) − Φ0‖ / ‖Φ0‖ of the 8-bit result. The reconstruction PNG carries
the CLI's metadata (task, feature spec).

Inversion is an optimisation of hundreds of steps, so a shared server bounds
the work of one request: at most :data:`MAX_ITERATIONS` iterations on at most
:data:`MAX_INVERT_PIXELS` pixels (``invimg invert`` has no such bound).
"""

from __future__ import annotations

from typing import Any, cast

import gradio as gr

from ...errors import InputImageError
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

#: Work per request: an IJCV run (350 iterations) on a 256×256 image is about a minute on one core.
MAX_ITERATIONS = 400
MAX_INVERT_PIXELS = 256 * 256
DEFAULT_ITERATIONS = 350
HAND_CRAFTED = (("HOG", "hog"), ("HOGb (soft binning)", "hogb"), ("Dense SIFT", "dsift"))
PRESETS = ("ijcv2016", "cvpr2015")
METHODS = (
    ("optimise (the paper's method)", "optimise"),
    ("decoder (HOG only, one pass)", "decoder"),
)
MEASURE = (
    "Relative error ‖Φ(x*) − Φ0‖ / ‖Φ0‖ of the 8-bit reconstruction (IJCV 2016), as "
    "`invimg invert` reports it."
)


def networks() -> list[str]:
    """Shipped networks whose layers the page offers (the RotNet trained for inversion)."""
    return shipped(lambda card: card.data.get("architecture") == "rotnet")


def representations() -> list[tuple[str, str]]:
    """(label, feature spec) of every representation the page offers."""
    from ...inversion.rotnet import LAYERS

    layers = [layer for layer in LAYERS if not layer.startswith("norm")]
    torch_specs = [
        (f"{net} {layer}", f"torch:{net}:{layer}") for net in networks() for layer in layers
    ]
    return [*HAND_CRAFTED, *torch_specs]


def available() -> bool:
    return has_module("invimg.inversion")


@on_page
def invert_image(
    limits: Limits,
    image: str | None,
    features: str,
    method: str = "optimise",
    preset: str = "ijcv2016",
    iterations: int = DEFAULT_ITERATIONS,
    seed: int = 0,
) -> tuple[Any, ...]:
    """Invert; return the original, the reconstruction, the report and the files."""
    from ...inversion.api import Method, inversion_metadata, run_inversion

    original = read_upload(image, "image", limits)
    _check_work(original.height, original.width, iterations)
    pixels = as_uint8(original)
    result = run_inversion(
        pixels,
        features,
        method=cast(Method, method),
        preset=preset,
        iterations=iterations,
        seed=seed,
    )
    folder = new_result_folder()
    name = stem(image, "image")
    original_path = save_result(folder, name, pixels)
    meta = inversion_metadata(features)
    spec_name = features.replace(":", "-").replace("torch-", "")
    out_path = save_result(folder, f"{name}-{spec_name}-inverted", result.image, meta)
    how = "decoder (one pass)" if method == "decoder" else f"{preset}, {iterations} iterations"
    extra = [
        f"**Relative error: {result.relative_error:.1f} %**",
        f"*{MEASURE}*",
        f"Features: {features}; {how}; seed {seed}; {result.seconds:.1f} s.",
    ]
    return original_path, out_path, report([], "", extra), [out_path]


def _check_work(height: int, width: int, iterations: int) -> None:
    """Refuse a request beyond the per-request bound, naming the CLI that has none."""
    if height * width > MAX_INVERT_PIXELS:
        raise InputImageError(
            f"the image is {width}×{height} = {width * height:,} pixels; this page inverts at "
            f"most {MAX_INVERT_PIXELS:,} (e.g. 256×256) to share the server: crop or resize "
            "it, or use `invimg invert`"
        )
    if not 2 <= iterations <= MAX_ITERATIONS:
        raise InputImageError(
            f"iterations must be from 2 to {MAX_ITERATIONS} on this page, got {iterations}"
        )


def build(page: Page) -> None:
    """One panel: upload, representation and optimiser settings, original | reconstruction."""
    choices = representations()
    specs = [spec for _, spec in choices]
    gr.Markdown(
        "Find an image whose representation matches the upload's (Mahendran & Vedaldi): "
        "what survives shows what the feature keeps. HOG and SIFT ignore brightness and "
        f"contrast, so those results are stretched. At most {MAX_INVERT_PIXELS:,} pixels "
        f"and {MAX_ITERATIONS} iterations per request here."
    )
    with gr.Row():
        image = image_input("Image", "invert-image")
        original = image_output("Original", "invert-original")
        result = image_output("Reconstruction", "invert-result")
    with gr.Row():
        features = gr.Dropdown(
            choices, value="hog", label="Representation", elem_id="invert-features"
        )
        method = gr.Dropdown(METHODS, value="optimise", label="Method", elem_id="invert-method")
        preset = gr.Dropdown(
            list(PRESETS), value="ijcv2016", label="Preset", elem_id="invert-preset"
        )
    with gr.Row():
        iterations = gr.Slider(
            10, MAX_ITERATIONS, value=DEFAULT_ITERATIONS, step=10, label="Iterations",
            elem_id="invert-iterations",
        )  # fmt: skip
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="invert-seed")
        button = gr.Button("Invert", variant="primary", elem_id="invert-button")
    summary = report_output("invert-report")
    files = files_output("invert-files")

    def run(upload: Any, spec: str, how: str, settings: str, steps: Any, start: Any) -> Any:
        return invert_image(
            page.limits,
            upload_path(upload),
            pick(spec, specs),
            pick(how, [m for _, m in METHODS]),
            pick(settings, PRESETS),
            int(steps or DEFAULT_ITERATIONS),
            int(start or 0),
        )

    button.click(
        run,
        [image, features, method, preset, iterations, seed],
        [original, result, summary, files],
        **page.event("invert"),
    )


CAPABILITIES = (Capability("Invert features", available, build),)
