"""Evaluate a hiding model the way a user meets it: through an 8-bit PNG file.

Protocol (written into every result so numbers never travel without it):

* Images: every image file in the folder, sorted by name. Image ``i`` is the
  cover and images ``i+1 … i+S`` (wrapping around) are its secrets, so each
  image is a cover once; deterministic, no randomness.
* ``size="256"`` (or any integer): the centred crop of that side from every
  image (images smaller than it are skipped). ``"full"``: the whole cover;
  secrets of another size are resized to it (bicubic) and measured against
  the resized secret.
* The stego from :func:`invimg.hiding.api.hide` is saved as a PNG, read back
  and revealed with the chosen ``z``. Metrics come from
  :func:`invimg.metrics.quality_report` on the 8-bit images, no border crop:
  PSNR and SSIM on RGB and on BT.601 Y, APD and RMSE on the 0–255 scale.
* Beside the model, the 4-bit LSB baseline (:mod:`invimg.hiding.baselines`)
  on the same images; with ``refine`` > 0 also the model's stego refined for
  that many steps (:mod:`invimg.hiding.refine`), row ``refined``, so both
  stand side by side in one run.
"""

from __future__ import annotations

import statistics
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputImageError, UsageError
from ..io import read_image, write_image
from ..metrics import quality_report
from ..training.data import image_files
from .api import ModelLike, hide, resolve_model, reveal
from .base import DEFAULT_Z, HidingModel
from .baselines import lsb_hide, lsb_reveal
from .refine import refine_channels

METRICS = ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y", "apd", "rmse")


def evaluate_hiding(
    model_name_or_path: ModelLike,
    folder: str | Path,
    size: str | int = "256",
    zs: Sequence[str] = (DEFAULT_Z,),
    limit: int | None = None,
    refine: int = 0,
) -> dict[str, Any]:
    """Mean quality of stego and revealed secrets over ``folder``; see the module docstring."""
    crop_side(size)  # a bad size fails before the model loads
    net = resolve_model(model_name_or_path)
    refine_channels(net, refine, None)
    sets = _image_sets(folder, net.num_secrets, size, limit)
    per_image: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="invimg-eval-") as tmp:
        for k, (name, cover, secrets) in enumerate(sets):
            row: dict[str, Any] = {"cover": name}
            for method, steps in (("model", 0), ("refined", refine)):
                if method == "refined" and not refine:
                    continue
                stego_path = Path(tmp) / f"{k}-{method}.png"
                write_image(stego_path, hide(cover, secrets, model=net, refine=steps))
                stego = _read_uint8(stego_path)
                revealed = {z: reveal(stego, model=net, z=z) for z in zs}  # type: ignore[arg-type]
                row[method] = _scores(cover, stego, secrets, revealed)
            lsb = lsb_hide(cover, secrets)
            row["lsb4"] = _scores(cover, lsb, secrets, {"-": lsb_reveal(lsb, len(secrets))})
            per_image.append(row)
    result: dict[str, Any] = {
        "model": _model_name(net, model_name_or_path),
        "protocol": _protocol(size, zs, refine),
        "images": len(per_image),
        "summary": _summary(per_image),
        "per_image": per_image,
    }
    result["markdown"] = markdown_table(result)
    return result


def _model_name(net: HidingModel, given: ModelLike) -> str:
    """The card's name when the model came from the zoo, else what the caller passed."""
    card = getattr(net, "card", None)
    if card is not None:
        return str(card.name)
    return given if isinstance(given, str) else str(getattr(net, "architecture", "model"))


def _protocol(size: str | int, zs: Sequence[str], refine: int = 0) -> dict[str, Any]:
    protocol = {
        "pairs": "image i hides images i+1..i+S (sorted names, wrapping)",
        "size": f"centre crop {size}x{size}" if str(size) != "full" else "full cover size",
        "stego": "8-bit PNG, written and read back",
        "z": list(zs),
        "metrics": "quality_report on uint8 images: RGB and BT.601 Y, no border crop",
        "baseline": "lsb4: 4 most significant secret bits in the 4 least significant cover bits",
    }
    if refine:
        protocol["refined"] = f"the model's stego refined for {refine} steps (invimg.hiding.refine)"
    return protocol


def _scores(
    cover: np.ndarray,
    stego: np.ndarray,
    secrets: list[np.ndarray],
    revealed: dict[str, list[np.ndarray]],
) -> dict[str, dict[str, float]]:
    scores = {"stego": quality_report(cover, stego)}
    for z, outs in revealed.items():
        for i, (sec, rev) in enumerate(zip(secrets, outs), start=1):
            scores[f"secret{i}" + ("" if z == "-" else f"[z={z}]")] = quality_report(sec, rev)
    return scores


def _summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for method in ("model", "refined", "lsb4"):
        if rows and method not in rows[0]:
            continue
        summary[method] = {}
        for part in rows[0][method] if rows else {}:
            summary[method][part] = {
                m: statistics.fmean(r[method][part][m] for r in rows) for m in METRICS
            }
    return summary


def markdown_table(result: dict[str, Any]) -> str:
    """The summary as a markdown table (one row per method and image)."""
    head = "| method | image | " + " | ".join(METRICS) + " |"
    lines = [head, "|" + "---|" * (len(METRICS) + 2)]
    for method, parts in result["summary"].items():
        label = {"model": result["model"], "refined": f"{result['model']} refined"}.get(
            method, method
        )
        for part, values in parts.items():
            cells = " | ".join(
                f"{values[m]:.4f}" if "ssim" in m else f"{values[m]:.2f}" for m in METRICS
            )
            lines.append(f"| {label} | {part} | {cells} |")
    return "\n".join(lines)


def _image_sets(
    folder: str | Path, count: int, size: str | int, limit: int | None
) -> list[tuple[str, np.ndarray, list[np.ndarray]]]:
    files = image_files([folder])
    if len(files) < count + 1:
        raise InputImageError(f"{folder}: need at least {count + 1} images, found {len(files)}")
    side = crop_side(size)
    images = [(f.name, _load(f, side)) for f in files]
    usable = [(n, im) for n, im in images if im is not None]
    if len(usable) < count + 1:
        raise InputImageError(f"{folder}: fewer than {count + 1} images of at least {side} px")
    sets = []
    for i, (name, cover) in enumerate(usable[: limit or len(usable)]):
        secrets = [_fit(usable[(i + j) % len(usable)][1], cover.shape) for j in range(1, count + 1)]
        sets.append((name, cover, secrets))
    return sets


def crop_side(size: str | int) -> int | None:
    """The crop side of ``size`` (None for ``"full"``); anything else is a usage error."""
    if str(size) == "full":
        return None
    try:
        side = int(size)
    except (TypeError, ValueError):
        side = 0
    if side <= 0:
        raise UsageError(f"size must be 'full' or a positive number of pixels, got {size!r}")
    return side


def _load(path: Path, side: int | None) -> np.ndarray | None:
    pixels = _to_uint8(read_image(path).pixels)
    if side is None:
        return pixels
    h, w = pixels.shape[:2]
    if min(h, w) < side:
        return None
    top, left = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(pixels[top : top + side, left : left + side])


def _fit(secret: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if secret.shape == shape:
        return secret
    t = torch.from_numpy(secret).permute(2, 0, 1)[None].float() / 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = F.interpolate(t, size=shape[:2], mode="bicubic", antialias=True, align_corners=False)
    return _to_uint8(t[0].permute(1, 2, 0).clamp(0, 1).numpy())


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(pixels, 0, 1) * 255).astype(np.uint8)


def _read_uint8(path: Path) -> np.ndarray:
    return _to_uint8(np.asarray(read_image(path).pixels))
