"""``invimg inpaint IMAGE MASK -n 8 -o OUTDIR``: many plausible fillings of a hole (PD-GAN).

Writes ``OUTDIR/sample_00.png`` … and ``OUTDIR/contact_sheet.png`` (the
input with its hole shown, then every sample). The mask is an image of the
same size whose white pixels are the hole (``--invert-mask`` for the other
convention). Known pixels are kept exactly.

Outputs are all-or-nothing: the samples are written into a temporary folder
beside ``OUTDIR`` and moved into place only once all of them exist. A new
``OUTDIR`` appears in one rename; an existing folder is used only if none of
the files to write is already there, unless ``--force``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import typer

from ..errors import InputImageError, OutputExistsError, OutputPathError
from ..inference import check_backend
from ..inpainting.api import (
    DEFAULT_MODEL,
    MAX_SAMPLES,
    MAX_STRENGTH,
    SHEET_NAME,
    sample_metadata,
    sample_names,
)
from ..io.images import show_path
from . import interrupt
from .cli import app
from .cli_backend import backend_option
from .common import read_input, user_errors


def check_output_dir(outdir: Path, names: list[str], force: bool) -> None:
    """Fail before any work if ``outdir`` cannot receive ``names``."""
    shown = show_path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputPathError(f"cannot write samples into {shown}: it is not a folder")
    if not outdir.exists():
        parent = outdir.absolute().parent
        if not parent.is_dir():
            raise OutputPathError(f"cannot create {shown}: folder {show_path(parent)} is missing")
        if not os.access(parent, os.W_OK):
            raise OutputPathError(f"cannot create {shown}: no permission to write there")
        return
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write samples into {shown}: no permission to write there")
    clash = [name for name in names if (outdir / name).exists()]
    if clash and not force:
        raise OutputExistsError(
            f"{show_path(outdir / clash[0])} exists ({len(clash)} of the files to write); "
            "use --force to replace them or choose another -o folder"
        )


def _read_mask(path: Path, size: tuple[int, int], invert: bool) -> np.ndarray:
    from ..inpainting.api import check_hole
    from ..inpainting.masks import load_mask
    from ..io import read_image

    try:
        pixels = read_image(path).pixels
    except InputImageError as exc:
        raise InputImageError(f"mask: {exc}") from None
    hole = load_mask(pixels, size, name=f"mask {show_path(path)}")
    hole = ~hole if invert else hole
    check_hole(hole)
    return hole


def _publish(outdir: Path, files: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    """Write every file into a temporary folder, then move them into ``outdir``.

    A folder that turns out unwritable only now (permissions checked as root,
    a read-only mount, a full disk) is an output problem, exit 4: one line,
    and the staging folder is removed.
    """
    parent = outdir.absolute().parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=parent))
    except OSError as exc:
        raise _write_error(outdir, exc) from None
    try:
        _stage_and_move(staging, outdir, files, meta)
    except OSError as exc:
        raise _write_error(outdir, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage_and_move(
    staging: Path, outdir: Path, files: dict[str, np.ndarray], meta: dict[str, str]
) -> None:
    from ..io import write_image

    for name, pixels in files.items():
        write_image(staging / name, pixels, metadata={**meta, "invimg:file": name})
    if not outdir.exists():
        staging.chmod(0o755)
        os.replace(staging, outdir)
        return
    with interrupt.deferred():  # a Ctrl-C must not leave half of the samples moved
        for name in files:
            os.replace(staging / name, outdir / name)


def _write_error(outdir: Path, exc: OSError) -> OutputPathError:
    reason = exc.strerror or type(exc).__name__
    return OutputPathError(f"cannot write samples into {show_path(outdir)}: {reason}")


@app.command("inpaint")
@user_errors
def inpaint_command(
    image: Path = typer.Argument(..., help="Photo with something to fill."),
    mask: Path = typer.Argument(..., help="Same-size image; white pixels are the hole."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for the samples (created)."),
    n: int = typer.Option(8, "-n", "--samples", min=1, max=MAX_SAMPLES, help="How many samples."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the samples' latents."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Shipped model name or card path."),
    strength: float | None = typer.Option(
        None,
        "--strength",
        min=0.0,
        max=MAX_STRENGTH,
        help="How far samples depart from the prior (0: none; default: the model's).",
    ),
    sheet: bool = typer.Option(True, "--sheet/--no-sheet", help="Also write contact_sheet.png."),
    invert_mask: bool = typer.Option(False, "--invert-mask", help="Black pixels are the hole."),
    force: bool = typer.Option(False, "--force", help="Replace existing sample files."),
    backend: str | None = backend_option(),
) -> None:
    """Draw N different plausible completions of the hole (PD-GAN); known pixels kept exactly."""
    from ..inpainting.api import contact_sheet, inpaint, resolve_model

    check_backend(backend)
    names = sample_names(n)
    check_output_dir(output, [*names, SHEET_NAME] if sheet else names, force)
    pixels = read_input(image).pixels
    hole = _read_mask(mask, pixels.shape[:2], invert_mask)
    net = resolve_model(model)
    samples = inpaint(pixels, hole, n=n, seed=seed, model=net, strength=strength, backend=backend)
    files = dict(zip(names, samples))
    if sheet:
        files[SHEET_NAME] = contact_sheet(pixels, hole, samples)
    meta = {
        **sample_metadata(model, seed),
        "invimg:strength": "model default" if strength is None else str(strength),
    }
    _publish(output, files, meta)
    typer.echo(
        f"wrote {n} sample(s){' and ' + SHEET_NAME if sheet else ''} to {show_path(output)} "
        f"(hole {100 * hole.mean():.1f}% of {pixels.shape[1]}×{pixels.shape[0]}, {model})"
    )
