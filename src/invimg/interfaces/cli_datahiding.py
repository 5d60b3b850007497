"""``invimg embed`` / ``extract`` / ``capacity``: hide any bytes in a photo's colours (Steg-cINN).

The stego is always a PNG (JPEG would destroy the payload) and carries *no*
invimg metadata: a stego must not announce itself. ``extract`` therefore
uses the shipped model unless ``--model`` names another. The password may
come from ``--password`` or from the ``INVIMG_PASSWORD`` environment variable
(which keeps it out of the shell history and the process list).

Every check that needs no model runs first: the output path, the payload
file, and whether the payload fits the cover. A payload that does not fit
is refused before anything is written (exit 7), as is a wrong password or a
damaged stego at extraction (exit 7, never garbage output).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import typer

from ..errors import OutputPathError, PayloadError, UsageError
from ..inference import check_backend
from ..io import check_output_file, check_output_path, write_bytes, write_png
from ..io.images import show_path
from ..tasks import first_default
from .cli import app
from .cli_backend import backend_option
from .common import read_input, user_errors

if TYPE_CHECKING:  # invimg.datahiding imports torch: only when a command runs
    from ..datahiding.payload import Payload

PASSWORD_ENV = "INVIMG_PASSWORD"
PASSWORD_HELP = (
    f"Password for the payload (or set {PASSWORD_ENV}). Without one the payload is still "
    "compressed, framed and integrity-checked, but anyone with invimg can read it."
)
DEFAULT_MODEL = first_default("datahiding", "embed")
MODEL_HELP = f"Shipped model name or path to a model card (.json). Default: {DEFAULT_MODEL}."
FORCE_HELP = "Overwrite the output file if it exists."


def _cover_pixels(path: Path) -> np.ndarray:
    return np.asarray(read_input(path).pixels)


def _read_payload_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PayloadError(
            f"cannot read payload file {show_path(path)}: {exc.strerror or exc}"
        ) from None


@app.command("embed")
@user_errors
def embed_command(
    cover: Path = typer.Argument(..., help="Cover photo: the stego keeps its lightness."),
    output: Path = typer.Option(..., "-o", "--output", help="Stego image to write (.png)."),
    message: str | None = typer.Option(None, "--message", "-m", help="Text to hide."),
    file: Path | None = typer.Option(None, "--file", "-f", help="File to hide (any bytes)."),
    password: str | None = typer.Option(
        None, "--password", "-p", envvar=PASSWORD_ENV, help=PASSWORD_HELP
    ),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help=MODEL_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    backend: str | None = backend_option(),
) -> None:
    """Hide a message or a file in COVER's colours; get it back with `invimg extract`."""
    from ..datahiding.api import capacity, embed
    from ..datahiding.payload import Payload

    check_backend(backend)
    if (message is None) == (file is None):
        raise UsageError("give exactly one of --message TEXT or --file FILE")
    if output.suffix.lower() != ".png":
        raise OutputPathError(
            f"cannot write {show_path(output)}: a stego must be a .png (lossy formats destroy "
            "the payload)"
        )
    inputs = [cover] + ([file] if file is not None else [])
    check_output_path(output, force=force, inputs=inputs)
    if file is not None:
        payload = Payload(_read_payload_file(file), "file", file.name)
    else:
        payload = Payload.from_text(message or "")
    pixels = _cover_pixels(cover)
    limit = capacity(pixels)
    _check_fits(payload, limit, cover)
    stego = embed(pixels, payload, password, model=model, backend=backend)
    write_png(output, stego, force=force, inputs=inputs)
    typer.echo(f"wrote {output} ({_bytes(len(payload.data))} hidden; this cover holds {limit})")


def _bytes(n: int) -> str:
    return f"{n} byte" if n == 1 else f"{n} bytes"


def _check_fits(payload: Payload, limit: int, cover: Path) -> None:
    """Refuse a payload over the cover's capacity in the units `invimg capacity` prints.

    The capacity counts data bytes; a file also stores its name, and any
    payload may shrink by compression. Saying both keeps the two commands
    consistent (the frame's own check speaks of encrypted bytes).
    """
    from ..datahiding.payload import OVERHEAD, pack, stored_name

    size = len(pack(payload)) - OVERHEAD
    if size <= limit:
        return
    stored = stored_name(payload.name)
    name = len(stored)
    parts = _bytes(len(payload.data))
    if name:
        parts += f" + {name} for the name {stored.decode('utf-8')!r}"
    if size < len(payload.data) + name:
        parts += f", compressed to {size}"
    raise PayloadError(
        f"the payload does not fit: it takes {_bytes(size)} ({parts}) but {show_path(cover)} "
        f"holds {_bytes(limit)}; use a larger cover or a smaller payload"
    )


@app.command("extract")
@user_errors
def extract_command(
    stego: Path = typer.Argument(..., help="Stego image written by `invimg embed`."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="File to write the payload to (default: print a message)."
    ),
    password: str | None = typer.Option(
        None, "--password", "-p", envvar=PASSWORD_ENV, help=PASSWORD_HELP
    ),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help=MODEL_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    backend: str | None = backend_option(),
) -> None:
    """Get back the message or file hidden in STEGO by `invimg embed`."""
    from ..datahiding.api import extract_payload

    check_backend(backend)
    if output is not None:
        check_output_file(output, force=force, inputs=[stego])
    image = read_input(stego)
    if image.format == "JPEG":
        raise PayloadError(f"{show_path(stego)} is a JPEG: lossy compression destroys payloads")
    payload = extract_payload(np.asarray(image.pixels), password, model=model, backend=backend)
    if output is not None:
        write_bytes(output, payload.data, force=force, inputs=[stego])
        typer.echo(f"wrote {output} ({len(payload.data)} bytes)")
    elif payload.kind == "text":
        sys.stdout.write(payload.text + ("" if payload.text.endswith("\n") else "\n"))
    else:
        name = f" {payload.name!r}" if payload.name else ""
        raise UsageError(
            f"the payload is a file{name} of {len(payload.data)} bytes: pass -o FILE to save it"
        )


@app.command("capacity")
@user_errors
def capacity_command(
    cover: Path = typer.Argument(..., help="Cover photo to measure."),
) -> None:
    """How many bytes `invimg embed` can hide in COVER (incompressible data; text fits more)."""
    from ..datahiding.api import capacity

    pixels = _cover_pixels(cover)
    height, width = pixels.shape[:2]
    limit = capacity(pixels)
    bpp = 8 * limit / (height * width)
    typer.echo(
        f"{show_path(cover)}: {width}×{height} px, {_bytes(limit)} ({bpp:.3f} bits per pixel); "
        "`embed --file` also stores the file's name, 1 byte per UTF-8 byte of it, and "
        "compressible data fits more"
    )
