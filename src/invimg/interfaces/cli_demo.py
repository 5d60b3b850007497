"""``invimg demo``: hide a bundled photo in another with the shipped model and measure it.

The demo does what a user does: hide, save the stego as an 8-bit PNG, read the
file back, reveal, and compare, beside the classical 4-bit LSB baseline on the
same pair. If a rescaling model is shipped, it also downscales and restores the
cover; if a colour model (IRN-Color) is shipped, it greys the cover and restores
its colours from the grey image alone, beside the plain luma.

The model is loaded before anything is written; ``--out`` is created if missing
(its parent folder must exist), and an earlier demo's pictures are only
replaced with ``--force``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import typer

from ..errors import OutputExistsError, OutputPathError
from ..hiding.api import DEFAULT_MODEL
from ..io import quantize_8bit, read_image, write_png
from ..io.images import show_path
from ..metrics import psnr, quality_report
from ..zoo import shipped_models
from .cli import app
from .common import user_errors

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FILES = (
    "cover.png",
    "secret.png",
    "stego.png",
    "revealed.png",
    "residual_x20.png",
    "stego_refined.png",
    "revealed_refined.png",
)
#: Refinement steps the demo shows beside the plain stego (``invimg hide --refine``).
DEMO_REFINE_STEPS = 30


def _bundled(name: str) -> np.ndarray:
    return np.asarray(read_image(ASSETS / name).pixels)


def _line(label: str, report: dict[str, float]) -> str:
    return (
        f"  {label:<26} PSNR {report['psnr_rgb']:6.2f} dB (Y {report['psnr_y']:6.2f})  "
        f"SSIM {report['ssim_rgb']:.4f}  APD {report['apd']:5.2f}  RMSE {report['rmse']:5.2f}"
    )


def _check_out(out: Path, force: bool) -> None:
    """Refuse an unusable ``--out`` or an earlier demo's pictures (without ``--force``)."""
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"cannot write the demo into {show_path(out)}: it is not a folder")
    if not out.exists():
        parent = out.absolute().parent
        if not parent.is_dir():
            raise OutputPathError(
                f"cannot write the demo into {show_path(out)}: "
                f"folder {show_path(parent)} does not exist"
            )
        return
    clashes = [f for f in FILES if (out / f).exists()]
    if clashes and not force:
        raise OutputExistsError(
            f"{show_path(out / clashes[0])} exists; use --force to overwrite the demo"
        )


def _hiding_demo(out: Path, model: str) -> None:
    from ..hiding.api import resolve_model
    from ..hiding.baselines import lsb_hide, lsb_reveal

    cover, secret = _bundled("cover.png"), _bundled("secret.png")
    stego, stego_read, revealed, hide_s, reveal_s = _hide_and_reveal(out, model, cover, secret)
    residual = np.clip(np.abs(stego.astype(np.float32) / 255 - cover) * 20, 0, 1)
    for name, pixels in (
        ("cover.png", cover),
        ("secret.png", secret),
        ("residual_x20.png", residual),
    ):
        write_png(out / name, pixels, force=True)
    lsb_stego = lsb_hide(quantize_8bit(cover), [quantize_8bit(secret)])
    (lsb_secret,) = lsb_reveal(lsb_stego)
    typer.echo(f"hiding with {model!r} (256×256, stego saved as 8-bit PNG and read back):")
    typer.echo(_line("stego vs cover", quality_report(cover, stego_read)))
    typer.echo(_line("revealed vs secret", quality_report(secret, revealed)))
    typer.echo(f"  time on this machine: hide {hide_s:.2f} s, reveal {reveal_s:.2f} s")
    if not resolve_model(model).conditioned_on_channel:
        steps = DEMO_REFINE_STEPS
        _, stego_read, revealed, refine_s, _ = _hide_and_reveal(out, model, cover, secret, steps)
        typer.echo(f"the same with `invimg hide --refine {steps}` ({refine_s:.1f} s):")
        typer.echo(_line("refined stego vs cover", quality_report(cover, stego_read)))
        typer.echo(_line("revealed vs secret", quality_report(secret, revealed)))
    typer.echo(_line("4-bit LSB stego vs cover", quality_report(cover, lsb_stego)))
    typer.echo(_line("4-bit LSB revealed", quality_report(secret, lsb_secret)))
    typer.echo(f"  files: {', '.join(str(out / f) for f in FILES if (out / f).exists())}")


def _hide_and_reveal(
    out: Path, model: str, cover: np.ndarray, secret: np.ndarray, refine: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """What a user does: hide (refined ``refine`` steps), save the PNG, read it, reveal.

    Returns the stego, the stego as read back, the revealed secret (also saved),
    and the seconds hiding and revealing took.
    """
    from ..hiding.api import hide, reveal

    suffix = "_refined" if refine else ""
    start = time.perf_counter()
    stego = hide(cover, [secret], model=model, refine=refine)
    hide_s = time.perf_counter() - start
    stego_path = out / f"stego{suffix}.png"
    write_png(stego_path, stego, force=True, metadata={"invimg:model": model})
    stego_read = read_image(stego_path).pixels  # measure what the file holds
    start = time.perf_counter()
    (revealed,) = reveal(stego_read, model=model)
    reveal_s = time.perf_counter() - start
    write_png(out / f"revealed{suffix}.png", revealed, force=True)
    return stego, stego_read, revealed, hide_s, reveal_s


def _colour_demo(model: str) -> None:
    from ..rescaling.api import colorize, decolorize
    from ..rescaling.color import luma

    cover = _bundled("cover.png")
    grey = decolorize(cover, model=model)  # uint8: what an 8-bit grey file holds
    restored = colorize(grey, model=model)
    rgb = torch.tensor(np.asarray(cover, dtype=np.float32)).permute(2, 0, 1)
    luma_as_colour = np.repeat(quantize_8bit(luma(rgb[None])[0, 0].numpy())[..., None], 3, 2)
    grey_db = psnr(np.repeat(grey[..., None], 3, 2), luma_as_colour)
    typer.echo(f"decolorization with {model!r} (grey kept as 8-bit, colour restored with z = 0):")
    typer.echo(f"  {'grey vs BT.601 luma':<26} PSNR {grey_db:6.2f} dB")
    typer.echo(_line("colour restored vs orig.", quality_report(cover, restored)))
    typer.echo(_line("luma alone, as colour", quality_report(cover, luma_as_colour)))


def _rescaling_demo(model: str) -> None:
    from PIL import Image

    from ..rescaling.api import downscale, upscale

    cover = _bundled("cover.png")
    small = downscale(cover, model=model)
    restored = upscale(small, model=model)
    scale = cover.shape[0] // small.shape[0]
    h, w = small.shape[:2]
    bicubic = np.asarray(
        Image.fromarray(quantize_8bit(cover))
        .resize((w, h), Image.Resampling.BICUBIC)
        .resize((w * scale, h * scale), Image.Resampling.BICUBIC)
    )
    typer.echo(f"rescaling ×{scale} with {model!r} (LR kept as 8-bit):")
    typer.echo(_line("restored vs original", quality_report(cover, restored, crop_border=scale)))
    typer.echo(_line("bicubic down+up", quality_report(cover, bicubic, crop_border=scale)))


@app.command("demo")
@user_errors
def demo_command(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for the pictures."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Hiding model (name or card path)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an earlier demo's files."),
) -> None:
    """Hide a bundled photo in another, reveal it, and print what was measured."""
    from ..hiding.api import resolve_model

    _check_out(out, force)  # fails in milliseconds, before the model loads
    resolve_model(model)  # a bad model fails before any folder or file is made
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot create {show_path(out)}: {exc.strerror or exc}") from None
    _hiding_demo(out, model)
    cards = [c for c in shipped_models() if c.task == "rescaling"]
    rescalers = [c for c in cards if c.data.get("architecture") != "irn-color"]
    useful = [c.name for c in rescalers if _beats_bicubic(c.metrics.get("values", {}))]
    if useful:
        _rescaling_demo(useful[0])
    elif rescalers:
        typer.echo(
            f"rescaling: skipped; the shipped {rescalers[0].name!r} is a preview that restores "
            "worse than bicubic on held-out photos (its card and BENCHMARKS.md say by how much)"
        )
    colour = [c.name for c in cards if c.data.get("architecture") == "irn-color"]
    if colour:
        _colour_demo(colour[0])


def _beats_bicubic(values: dict[str, float]) -> bool:
    """Whether a rescaling card's measured restoration (either z) beats bicubic down+up."""
    restored = max(values.get("irn_z0_psnr_y", 0.0), values.get("irn_zgauss_psnr_y", 0.0))
    return restored > values.get("bicubic_psnr_y", float("inf"))
