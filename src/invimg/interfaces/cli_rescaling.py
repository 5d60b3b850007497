"""``invimg downscale`` / ``upscale`` / ``decolorize`` / ``colorize`` (IRN, IRN-Color).

``downscale`` records in the PNG's text metadata which model made the LR image,
its scale and the original size, so ``upscale small.png -o big.png`` needs no
options and gives back exactly the original dimensions (a model given as a card
path is recorded as an absolute path, so that works from any folder). The
output path is validated before any model runs, so a typo costs milliseconds.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import typer

from ..errors import InputImageError, WrongModelError
from ..inference import check_backend
from ..io import check_output_path, write_image
from ..io.images import show_path
from ..io.metadata import recorded_model, task_metadata
from ..rescaling.api import (
    DEFAULT_SCALE,
    default_rescaling_model,
    grey_metadata,
    lr_metadata,
    recorded_rescaling_model,
    recorded_size,
    rescaling_model,
)
from .cli import app
from .cli_backend import backend_option
from .common import check_choice, read_input, user_errors

FORCE_HELP = "Overwrite OUTPUT if it exists."
MODEL_HELP = "Shipped model name or path to a model card (.json)."
SCALE_HELP = f"Scale factor (default: the model's; without --model, {DEFAULT_SCALE})."
Z_HELP = (
    "Latent for the lost details: 'zeros' or 'gaussian' (default: the one the model's "
    "card measured as better)."
)


def _read(path: Path) -> np.ndarray:
    """Pixels of ``path``, voicing every conversion the reader made as a warning."""
    return read_input(path).pixels


@app.command("downscale")
@user_errors
def downscale_command(
    image: Path = typer.Argument(..., help="Image to downscale."),
    output: Path = typer.Option(..., "-o", "--output", help="LR image to write (.png)."),
    scale: int | None = typer.Option(None, "-x", "--scale", min=2, help=SCALE_HELP),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    backend: str | None = backend_option(),
) -> None:
    """Downscale an image with IRN; the LR image can be restored by `invimg upscale`."""
    from ..rescaling.api import downscale

    check_output_path(output, force=force, inputs=[image])
    check_backend(backend)
    spec = model or default_rescaling_model(scale)
    pixels = _read(image)
    net = rescaling_model(spec)
    if scale is not None and net.scale != scale:
        raise WrongModelError(f"model {spec!r} rescales ×{net.scale}, not ×{scale}")
    quality = getattr(net, "jpeg_quality", None)
    if output.suffix.lower() != ".png" and quality is None:
        warnings.warn(
            "the LR image is saved lossily; upscaling needs its exact pixels (use .png, "
            "or a model trained for JPEG such as irn-x2-jpeg90)",
            UserWarning,
            stacklevel=1,
        )
    h, w = pixels.shape[:2]
    if min(h, w) < net.scale:  # the LR image would be as large as the input: nothing gained
        raise InputImageError(
            f"{show_path(image)} is {w}×{h} px: too small to downscale ×{net.scale} "
            f"(each side needs at least {net.scale} px)"
        )
    lr = downscale(pixels, model=net, backend=backend)
    meta = lr_metadata(spec, net, (h, w))
    write_image(output, lr, force=force, inputs=[image], metadata=meta, jpeg_quality=quality or 95)
    typer.echo(f"wrote {output} ({lr.shape[1]}×{lr.shape[0]}, ×{net.scale} from {w}×{h}, {spec})")


@app.command("upscale")
@user_errors
def upscale_command(
    image: Path = typer.Argument(..., help="LR image written by `invimg downscale`."),
    output: Path = typer.Option(..., "-o", "--output", help="Restored image to write."),
    scale: int | None = typer.Option(
        None, "-x", "--scale", min=2, help="Override the recorded scale."
    ),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    z: str | None = typer.Option(None, "--z", help=Z_HELP),
    seed: int = typer.Option(0, "--seed", help="Seed of the Gaussian latent."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    backend: str | None = backend_option(),
) -> None:
    """Restore the high-resolution image from an IRN-downscaled one."""
    from ..rescaling.api import default_z, upscale

    check_output_path(output, force=force, inputs=[image])
    check_backend(backend)
    if z is not None:
        check_choice("--z", z, ("zeros", "gaussian"))
    pixels = _read(image)
    meta = task_metadata(image, "rescaling")
    if not meta:
        warnings.warn(
            f"{image} was not made by `invimg downscale`: IRN can only restore detail "
            "that its own downscaling hid, so this is not super-resolution",
            UserWarning,
            stacklevel=1,
        )
    spec = model or recorded_rescaling_model(meta, image, scale)
    net = rescaling_model(spec)
    if scale is not None and net.scale != scale:
        raise WrongModelError(f"model {spec!r} rescales ×{net.scale}, not ×{scale}")
    size = recorded_size(meta, pixels.shape[:2], net.scale)
    z = z or default_z(net)
    hr = upscale(pixels, model=net, z=z, seed=seed, size=size, backend=backend)  # type: ignore[arg-type]
    write_image(output, hr, force=force, inputs=[image])
    typer.echo(f"wrote {output} ({hr.shape[1]}×{hr.shape[0]}, ×{net.scale}, {spec}, z={z})")


@app.command("decolorize")
@user_errors
def decolorize_command(
    image: Path = typer.Argument(..., help="Colour image."),
    output: Path = typer.Option(..., "-o", "--output", help="Grey image to write (.png)."),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Make a grey image from which `invimg colorize` restores the colours (IRN-Color)."""
    from ..rescaling.api import decolorize, default_color_model

    check_output_path(output, force=force, inputs=[image])
    pixels = _read(image)
    model = model or default_color_model()
    grey = decolorize(pixels, model=rescaling_model(model, "color"))
    meta = grey_metadata(model)
    write_image(
        output, np.repeat(grey[..., None], 3, axis=2), force=force, inputs=[image], metadata=meta
    )
    typer.echo(f"wrote {output} ({grey.shape[1]}×{grey.shape[0]} grey, {model})")


@app.command("colorize")
@user_errors
def colorize_command(
    image: Path = typer.Argument(..., help="Grey image written by `invimg decolorize`."),
    output: Path = typer.Option(..., "-o", "--output", help="Colour image to write."),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Restore the colours of a grey image made by `invimg decolorize`."""
    from ..rescaling.api import colorize, default_color_model

    check_output_path(output, force=force, inputs=[image])
    pixels = _read(image)
    meta = task_metadata(image, "decolorization")
    if not meta:
        warnings.warn(
            f"{image} was not made by `invimg decolorize`: its colours were never "
            "stored, so they will be guessed, not restored",
            UserWarning,
            stacklevel=1,
        )
    spec = model or recorded_model(meta, image) or default_color_model()
    rgb = colorize(pixels, model=rescaling_model(spec, "color"))
    write_image(output, rgb, force=force, inputs=[image])
    typer.echo(f"wrote {output} ({rgb.shape[1]}×{rgb.shape[0]}, {spec})")
