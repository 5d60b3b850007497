"""Tab "Hide images": Hide (cover + secrets -> stego) and Reveal (stego -> secrets).

Hide also reveals the secrets from the 8-bit stego it just made and measures
them, so the user sees what the receiver will get before sending anything.
The stego PNG carries the CLI's metadata (task, model, secret count), so
``invimg reveal`` reads it and the Reveal sub-tab finds its model by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from ...io import LoadedImage
from .page import Capability, Page
from .parts import (
    Limits,
    as_uint8,
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

#: The most secrets any hiding architecture carries (DeepMIH: 3).
MAX_SECRETS = 3
#: Dropdown value meaning "the model recorded in the stego's metadata".
RECORDED = "recorded"
PROTOCOL = (
    "Measured on the 8-bit PNG images with invimg.metrics.quality_report, no border "
    "crop, z = 0: the protocol of `invimg eval hiding` and BENCHMARKS.md."
)


def models() -> list[str]:
    """Shipped hiding models."""
    return shipped(lambda card: card.task == "hiding")


def available() -> bool:
    return bool(models())


def secret_count(model: str) -> int:
    """How many secrets ``model`` hides (loads it: the models are small and cached)."""
    from ...hiding.api import resolve_model

    return resolve_model(model).num_secrets


@on_page
def hide_images(
    limits: Limits,
    model: str,
    cover: str | None,
    secrets: Sequence[str | None],
    refine: int = 0,
) -> tuple[Any, ...]:
    """Hide (then refine ``refine`` steps); return the stego, the secrets revealed from it,
    the report and the files."""
    from ...hiding.api import hide, resolve_model, reveal, stego_metadata

    net = resolve_model(model)
    cover_image = read_upload(cover, "cover", limits)
    labels = [f"secret {i}" for i in range(1, net.num_secrets + 1)]
    given = [*secrets, *[None] * net.num_secrets][: net.num_secrets]  # a missing one: asked for
    secret_images = [read_upload(p, label, limits) for p, label in zip(given, labels)]
    stego = hide(cover_image.pixels, [s.pixels for s in secret_images], model=net, refine=refine)
    revealed = reveal(stego, model=net)
    references = _at_size(secret_images, (cover_image.height, cover_image.width))
    folder = new_result_folder()
    meta = stego_metadata(model, net)
    stego_path = save_result(folder, f"{stem(cover, 'cover')}-stego", stego, meta)
    checks = [
        save_result(folder, f"revealed-{label.replace(' ', '-')}", r)
        for label, r in zip(labels, revealed)
    ]
    rows = [("stego vs cover", measure(as_uint8(cover_image), stego))]
    rows += [
        (f"{label} revealed from the stego vs {label}", measure(ref, out))
        for label, ref, out in zip(labels, references, revealed)
    ]
    summary = report(
        rows,
        PROTOCOL,
        [
            f"Model: {model}"
            + (f", stego refined for {refine} steps" if refine else "")
            + ". Keep the stego as PNG: JPEG destroys the hidden image."
        ],
    )
    return (stego_path, *_slots(checks), summary, [stego_path])


@on_page
def reveal_images(
    limits: Limits, model: str, stego: str | None, references: Sequence[str | None]
) -> tuple[Any, ...]:
    """Reveal; return the secrets, the report (measured when originals are given), the files."""
    from ...hiding.api import recorded_hiding_model, resolve_model, reveal

    stego_image = read_upload(stego, "stego", limits)
    assert stego is not None  # read_upload refused a missing upload
    spec = recorded_hiding_model(Path(stego)) if model == RECORDED else model
    net = resolve_model(spec)
    if stego_image.format == "JPEG" and not net.robust:
        note("the stego is a JPEG: lossy compression damages the hidden image")
    outs = reveal(stego, model=net)  # the file: a robust model reads a JPEG's quality from it
    folder = new_result_folder()
    base = stem(stego, "stego").removesuffix("-stego")
    names = (
        [f"{base}-secret"]
        if len(outs) == 1
        else [f"{base}-secret-{i}" for i in range(1, len(outs) + 1)]
    )
    paths = [save_result(folder, name, out) for name, out in zip(names, outs)]
    rows = _measured(outs, references, limits)
    extra = [f"Model: {spec}."]
    if not rows:
        extra.append("Give the original secret to measure PSNR/SSIM.")
    return (*_slots(paths), report(rows, PROTOCOL, extra), paths)


def _at_size(secrets: Sequence[LoadedImage], size: tuple[int, int]) -> list[np.ndarray]:
    """What the receiver should get: each secret as ``hide`` resized it to the cover's size."""
    from ...hiding.api import fit_secret
    from ...io import as_image_tensor, quantize_8bit, to_numpy

    return [
        quantize_8bit(to_numpy(fit_secret(as_image_tensor(s.pixels), size, False, i)))
        for i, s in enumerate(secrets, start=1)
    ]


def _measured(
    outs: Sequence[np.ndarray], references: Sequence[str | None], limits: Limits
) -> list[tuple[str, dict[str, float]]]:
    """Rows for the revealed secrets whose original the user gave (and that fit it)."""
    rows = []
    for i, (out, ref_path) in enumerate(zip(outs, references), start=1):
        ref = optional_upload(ref_path, f"original secret {i}", limits)
        if ref is not None and ref.shape != out.shape:
            note(
                f"original secret {i} is {ref.shape[1]}×{ref.shape[0]}, the revealed one "
                f"{out.shape[1]}×{out.shape[0]}: not measured"
            )
        elif ref is not None:
            rows.append((f"revealed secret {i} vs the original", measure(ref, out)))
    return rows


def _slots(paths: Sequence[str]) -> list[str | None]:
    """One value per secret slot of the page (unused slots stay empty)."""
    return [*paths, *[None] * (MAX_SECRETS - len(paths))]


def build(page: Page) -> None:
    """The Hide and Reveal sub-tabs."""
    from ...hiding.api import DEFAULT_MODEL

    names = models()
    default = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
    _build_hide(page, names, default)
    _build_reveal(page, names)


def _build_hide(page: Page, names: list[str], default: str) -> None:
    count = secret_count(default)
    with gr.Tab("Hide"):
        gr.Markdown(
            "Hide secret image(s) inside a cover image. The stego looks like the cover; "
            "send it **as the PNG from Download** (any re-encoding destroys the secret)."
        )
        with gr.Row():
            cover = image_input("Cover", "hide-cover")
            secrets = [
                image_input(f"Secret {i}", f"hide-secret-{i}", visible=i <= count)
                for i in range(1, MAX_SECRETS + 1)
            ]
        with gr.Row():
            model = gr.Dropdown(names, value=default, label="Model", elem_id="hide-model")
            refine = gr.Slider(
                0,
                100,
                value=0,
                step=5,
                label="Refine steps (slower; the secret comes back better; not for robust models)",
                elem_id="hide-refine",
            )
            button = gr.Button("Hide", variant="primary", elem_id="hide-button")
        with gr.Row():
            stego = image_output("Stego", "hide-stego")
            checks = [
                image_output(f"Secret {i} revealed from the stego", f"hide-check-{i}", i <= count)
                for i in range(1, MAX_SECRETS + 1)
            ]
        summary = report_output("hide-report")
        files = files_output("hide-files")

    def run(model_name: str, cover_upload: Any, *secrets_then_steps: Any) -> Any:
        *secret_uploads, steps = secrets_then_steps  # the slider comes last: API callers
        secret_paths = [upload_path(u) for u in secret_uploads]  # that omit it keep working
        return hide_images(
            page.limits,
            pick(model_name, names),
            upload_path(cover_upload),
            secret_paths,
            refine=int(steps or 0),
        )

    def show_slots(model_name: str) -> list[Any]:
        n = secret_count(model_name)
        return [gr.update(visible=i < n) for i in range(MAX_SECRETS)] * 2

    model.change(show_slots, model, [*secrets, *checks], queue=False, api_visibility="private")
    button.click(
        run,
        [model, cover, *secrets, refine],
        [stego, *checks, summary, files],
        **page.event("hide"),
    )


def _build_reveal(page: Page, names: list[str]) -> None:
    most = max(secret_count(name) for name in names)
    with gr.Tab("Reveal"):
        gr.Markdown(
            "Get the secret image(s) back from a stego made by Hide (or `invimg hide`). "
            "Add the original secret to measure how well it came back."
        )
        with gr.Row():
            stego = image_input("Stego", "reveal-stego")
            references = [
                image_input(f"Original secret {i} (optional)", f"reveal-reference-{i}")
                for i in range(1, most + 1)
            ]
        with gr.Row():
            choices = [("as recorded in the stego", RECORDED), *((n, n) for n in names)]
            model = gr.Dropdown(choices, value=RECORDED, label="Model", elem_id="reveal-model")
            button = gr.Button("Reveal", variant="primary", elem_id="reveal-button")
        with gr.Row():
            secrets = [
                image_output(f"Secret {i}", f"reveal-secret-{i}", visible=i <= most)
                for i in range(1, MAX_SECRETS + 1)
            ]
        summary = report_output("reveal-report")
        files = files_output("reveal-files")

    def run(model_name: str, stego_upload: Any, *reference_uploads: Any) -> Any:
        model_name = pick(model_name, [RECORDED, *names])
        references = [upload_path(u) for u in reference_uploads]
        return reveal_images(page.limits, model_name, upload_path(stego_upload), references)

    button.click(
        run, [model, stego, *references], [*secrets, summary, files], **page.event("reveal")
    )


CAPABILITIES = (Capability("Hide images", available, build),)
