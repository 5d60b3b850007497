"""``invimg hide`` / ``invimg reveal``: hide images in an image and get them back.

``hide`` writes the model it used into the stego PNG's text metadata, so
``invimg reveal stego.png -o secret.png`` needs no options. Output paths are
validated before any model runs. Several secrets (DeepMIH) are written as
``OUT_1.png``, ``OUT_2.png`` … next to ``-o OUT.png``, or as
``secret_1.png`` … inside ``-o DIR`` when ``DIR`` is an existing folder.

A stego must stay lossless: ``-o stego.jpg`` is refused unless the model is
robust (RIIS, trained to survive JPEG and noise): ``--robust`` picks the
shipped robust model, ``--quality`` the JPEG quality. ``reveal`` tells a robust
model what the stego went through (``--channel jpeg:75``, ``gaussian:2`` …; by
default the quality read from a JPEG file, else an 8-bit PNG). It warns when
the stego carries no ``invimg hide`` metadata (then the model is only a guess)
and when a JPEG meets a model that is not robust.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import typer

from ..errors import InputImageError, UsageError
from ..hiding.api import DEFAULT_MODELS, default_model, recorded_hiding_model, stego_metadata
from ..inference import check_backend
from ..io import check_output_path, write_image
from ..io.images import show_path
from .cli import app
from .cli_backend import backend_option
from .common import check_choice, read_input, user_errors

MODEL_HELP = (
    "Shipped model name, path to a model card (.json), or a HiNet checkpoint of the "
    "published code (.pt). Default: "
    + ", ".join(f"{name} for {n} secret(s)" for n, name in DEFAULT_MODELS.items())
    + "."
)
FORCE_HELP = "Overwrite existing output file(s)."
LOSSY = (".jpg", ".jpeg")
ROBUST_HELP = (
    "Use a model that survives JPEG and noise (the shipped robust model unless --model "
    "names one); allows a .jpg stego."
)
REFINE_HELP = (
    "Then optimise the stego for this many steps so the model's own reveal reads the "
    "secret better (a reveal's forward and backward pass each; 30 is a good start)."
)
REFINE_FOR_HELP = (
    "Robust models: the channels to refine for, e.g. jpeg:75 (default: round,jpeg:90,jpeg:75; "
    "a .jpg stego: its own --quality)."
)
CHANNEL_HELP = (
    "Robust models: what the stego went through, e.g. jpeg:75, gaussian:2, round. "
    "Default: the quality read from a JPEG file, else round (8-bit PNG)."
)


class LossyStegoError(UsageError):
    """A lossy output format would destroy the hidden image."""


def _read(path: Path) -> np.ndarray:
    """Pixels of ``path``; every conversion the reader made becomes a warning."""
    return np.asarray(read_input(path).pixels)


def check_cover_size(cover: Path, pixels: np.ndarray, smallest: int) -> None:
    """Refuse a cover smaller than one block of the network: it would hide nothing.

    The network works on ``smallest``-pixel blocks; a thinner cover is padded
    to one and cropped back, and the crop throws away what was hidden, so the
    secret (resized down to the cover) could never be revealed.
    """
    h, w = pixels.shape[:2]
    if min(h, w) < smallest:
        raise InputImageError(
            f"cover {show_path(cover)} is {w}×{h} px: too small to hide anything "
            f"(each side needs at least {smallest} px)"
        )


@app.command("hide")
@user_errors
def hide_command(
    cover: Path = typer.Argument(..., help="Cover image: what the stego will look like."),
    secrets: list[Path] = typer.Argument(..., help="Secret image(s) to hide (1 for HiNet)."),
    output: Path = typer.Option(..., "-o", "--output", help="Stego image to write (.png)."),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    robust: bool = typer.Option(False, "--robust", help=ROBUST_HELP),
    quality: int = typer.Option(90, "--quality", help="JPEG quality of a .jpg stego (1-100)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse secrets of another size."),
    refine: int = typer.Option(0, "--refine", min=0, help=REFINE_HELP),
    refine_for: str | None = typer.Option(None, "--refine-for", help=REFINE_FOR_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    backend: str | None = backend_option(),
) -> None:
    """Hide SECRET image(s) inside COVER; reveal them with `invimg reveal`."""
    from ..hiding.api import check_secret_count, default_robust_model, hide, resolve_model
    from ..hiding.refine import refine_channels

    inputs = [cover, *secrets]
    check_output_path(output, force=force, inputs=inputs)
    if not 1 <= quality <= 100:
        raise UsageError(f"--quality must be from 1 to 100, got {quality}")
    check_backend(backend)
    if model is None:
        model = default_robust_model() if robust else default_model(len(secrets))
    net = resolve_model(model)
    if robust and not net.robust:
        raise UsageError(f"--robust: model {model!r} is not robust (try --model riis-small)")
    if output.suffix.lower() in LOSSY and not net.robust:
        raise LossyStegoError(
            f"refusing to write the stego as JPEG ({output.name}): lossy compression destroys "
            "the hidden image; use .png (or a robust model: --robust)"
        )
    check_secret_count(len(secrets), net)
    targets = refine_for.split(",") if refine_for else None
    if targets is None and net.conditioned_on_channel and output.suffix.lower() in LOSSY:
        targets = [f"jpeg:{quality}"]  # the channel is known: this very file
    targets = refine_channels(net, refine, targets)
    cover_pixels = _read(cover)
    check_cover_size(cover, cover_pixels, net.size_multiple)
    secret_pixels = [_read(s) for s in secrets]
    stego = hide(
        cover_pixels,
        secret_pixels,
        model=net,
        strict=strict,
        backend=backend,
        refine=refine,
        refine_for=targets,
    )
    meta = stego_metadata(model, net)
    write_image(output, stego, force=force, inputs=inputs, metadata=meta, jpeg_quality=quality)
    typer.echo(f"wrote {output} ({len(secrets)} secret(s) hidden with {model})")


@app.command("reveal")
@user_errors
def reveal_command(
    stego: Path = typer.Argument(..., help="Stego image written by `invimg hide`."),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="Secret image to write; OUT_1.png, OUT_2.png … (or a folder) for several.",
    ),
    secrets: int | None = typer.Option(None, "--secrets", help="Number of secrets expected."),
    model: str | None = typer.Option(
        None, "--model", help="Model name or card; default: the one recorded in STEGO."
    ),
    z: str = typer.Option(
        "zeros", "--z", help="Stand-in for the lost information: zeros|gaussian."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the Gaussian z."),
    channel: str | None = typer.Option(None, "--channel", help=CHANNEL_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    backend: str | None = backend_option(),
) -> None:
    """Reveal the secret image(s) hidden in STEGO."""
    from ..hiding.api import check_secret_count, resolve_model, reveal, reveal_channel

    check_choice("--z", z, ("zeros", "gaussian"))
    check_backend(backend)
    spec = model or recorded_hiding_model(stego, secrets)
    net = resolve_model(spec)
    if secrets is not None:
        check_secret_count(secrets, net)
    condition = reveal_channel(net, stego, channel)  # a bad --channel fails before any work
    targets = output_paths(output, net.num_secrets)
    for target in targets:
        check_output_path(target, force=force, inputs=[stego])
    image = read_input(stego)
    if image.format == "JPEG" and not net.robust:
        warnings.warn(
            f"{show_path(stego)} is a JPEG: lossy compression damages the hidden image, "
            "so the secret will come out degraded",
            UserWarning,
            stacklevel=1,
        )
    pixels = np.asarray(image.pixels)
    outs = reveal(
        pixels,
        model=net,
        z=z,  # type: ignore[arg-type]
        seed=seed,
        channel=condition,
        backend=backend,
    )
    for target, pixels in zip(targets, outs):
        write_image(target, pixels, force=force, inputs=[stego])
    typer.echo("wrote " + ", ".join(str(t) for t in targets))


def output_paths(output: Path, count: int) -> list[Path]:
    """Where the secrets go: ``output`` itself, ``DIR/secret_i.png`` or ``OUT_i.suffix``."""
    if output.is_dir():
        return [output / f"secret_{i}.png" for i in range(1, count + 1)]
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}_{i}{output.suffix}") for i in range(1, count + 1)]
