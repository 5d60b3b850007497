"""Measure Steg-cINN as a user meets it, beside a plain LSB tool on the same payloads.

For each cover: a payload of random bytes (incompressible, the worst case)
as large as :func:`~.api.capacity` allows; ``embed`` → 8-bit PNG on disk →
read back → ``extract``; success means the very same bytes. The same
payload is hidden with ``stegano``'s LSB (sequential, one bit per channel
value) and revealed the same way. Reported per image and on average:

* net capacity (payload bits per pixel, after encryption, framing and ECC);
* extraction success, raw latent sign error rate, the code used and its
  smallest spare correction margin;
* luminance fidelity: PSNR/SSIM on BT.601 Y (``invimg.metrics``) and PSNR
  on CIE L* (what Steg-cINN keeps) of stego vs cover;
* colour fidelity: mean CIEDE2000 ΔE of stego vs cover (scikit-image);
* steganalysis: chi-square attack probability on the whole image and on the
  first 10 % of rows (where sequential LSB tools write), and the RS-analysis
  estimate of the embedded fraction, for the cover, our stego and the LSB stego.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

from ..errors import PayloadError
from ..io import read_image, write_png
from ..metrics import psnr, ssim
from .api import ModelLike, capacity, embed_with_report, extract, resolve_model
from .steganalysis import chi_square_attack, rs_analysis

#: Fractions of capacity tried, in order, for a cover that fails at capacity.
FALLBACK = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)


def as_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(pixels, 0, 1) * 255).astype(np.uint8)


def fidelity(cover: np.ndarray, stego: np.ndarray) -> dict[str, float]:
    """Luminance and colour fidelity of a uint8 stego against its uint8 cover."""
    a, b = cover.astype(np.float64) / 255, stego.astype(np.float64) / 255
    lab_a, lab_b = rgb2lab(a), rgb2lab(b)
    mse_l = float(np.mean((lab_a[..., 0] - lab_b[..., 0]) ** 2))
    return {
        "psnr_y": psnr(cover, stego, channel="y"),
        "ssim_y": ssim(cover, stego, channel="y"),
        "psnr_lstar": 10 * np.log10(100**2 / mse_l) if mse_l > 0 else float("inf"),
        "psnr_rgb": psnr(cover, stego),
        "delta_e00": float(np.mean(deltaE_ciede2000(lab_a, lab_b))),
    }


def steganalysis(image: np.ndarray) -> dict[str, float]:
    return {
        "chi2_all": chi_square_attack(image),
        "chi2_first10": chi_square_attack(image, 0.1),
        "rs_rate": rs_analysis(image),
    }


def _png_roundtrip(pixels: np.ndarray, folder: Path) -> np.ndarray:
    path = folder / "stego.png"
    write_png(path, pixels, force=True)
    return np.asarray(read_image(path).pixels)


def run_steg_cinn(
    cover: np.ndarray, payload: bytes, password: str, net: Any, folder: Path, seed: int
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Embed, save as PNG, read back, extract; the measurements and the uint8 stego."""
    start = time.perf_counter()
    try:
        stego, report = embed_with_report(cover, payload, password, model=net, seed=seed)
    except PayloadError as exc:  # refused by embed's self-check: a failure, measured
        return {"success": False, "error": f"embed: {exc}", "embed_s": None}, None
    embed_s = time.perf_counter() - start
    saved = _png_roundtrip(stego, folder)
    start = time.perf_counter()
    error: str | None = None
    try:
        ok = extract(saved, password, model=net) == payload
    except Exception as exc:  # a failure is a measurement here, not a crash
        ok, error = False, f"{type(exc).__name__}: {exc}"
    row = {
        "success": ok,
        "error": error,
        "embed_s": embed_s,
        "extract_s": time.perf_counter() - start,
        "raw_sign_error_rate": report.bit_error_rate,
        "margin_bytes": report.margin,
        "attempts": report.attempts,
        "corrections": report.corrections,
        "uncorrected_sign_error_rate": report.uncorrected_error_rate,
        "uncorrected_margin_bytes": report.uncorrected_margin,
        "code": {
            "repeat": report.code.repeat,
            "codeword": report.code.length,
            "data": report.code.data,
            "codewords": report.code.codewords,
        },
    }
    return row, stego


def run_lsb(cover: np.ndarray, payload: bytes) -> tuple[dict[str, Any], np.ndarray]:
    """The same payload with ``stegano``'s LSB (bytes as latin-1 characters, 8 bits each)."""
    from stegano import lsb

    start = time.perf_counter()
    stego_image = lsb.hide(Image.fromarray(cover), payload.decode("latin-1"))
    embed_s = time.perf_counter() - start
    buffer = io.BytesIO()
    stego_image.save(buffer, format="PNG")
    png = buffer.getvalue()
    start = time.perf_counter()
    revealed = lsb.reveal(io.BytesIO(png))
    ok = revealed is not None and revealed.encode("latin-1") == payload
    row = {"success": ok, "embed_s": embed_s, "extract_s": time.perf_counter() - start}
    return row, np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def evaluate_image(
    path: Path,
    model: ModelLike,
    password: str,
    seed: int,
    lsb: bool = True,
    fallback: tuple[float, ...] = FALLBACK,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Every measurement of one cover; also returns our stego (for pictures)."""
    cover = as_uint8(np.asarray(read_image(path).pixels))
    h, w = cover.shape[:2]
    size = capacity(cover)
    payload = np.random.default_rng([seed, h, w]).bytes(size)
    net = resolve_model(model)
    row: dict[str, Any] = {"image": path.name, "size": [w, h], "payload_bytes": size}
    row["net_bpp"] = 8 * size / (h * w)
    row["cover_steganalysis"] = steganalysis(cover)
    with tempfile.TemporaryDirectory() as tmp:
        ours, stego = run_steg_cinn(cover, payload, password, net, Path(tmp), seed)
    if stego is not None:
        ours.update(fidelity(cover, stego), steganalysis=steganalysis(stego))
    if not ours["success"]:
        ours["fallback"] = largest_working_payload(cover, size, password, net, seed, fallback)
    row["steg_cinn"] = ours
    if lsb:
        theirs, lsb_stego = run_lsb(cover, payload)
        row["lsb"] = {
            **theirs,
            **fidelity(cover, lsb_stego),
            "steganalysis": steganalysis(lsb_stego),
        }
    return row, stego


def largest_working_payload(
    cover: np.ndarray,
    size: int,
    password: str,
    net: Any,
    seed: int,
    fractions: tuple[float, ...] = FALLBACK,
) -> dict[str, Any] | None:
    """For a cover that failed at capacity: the first of ``fractions`` of it that works."""
    h, w = cover.shape[:2]
    for fraction in fractions:
        payload = np.random.default_rng([seed, h, w, 1]).bytes(int(size * fraction))
        with tempfile.TemporaryDirectory() as tmp:
            row, _ = run_steg_cinn(cover, payload, password, net, Path(tmp), seed)
        if row["success"]:
            return {"fraction": fraction, "net_bpp": 8 * len(payload) / (h * w), **row}
    return None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over images (success as a fraction)."""

    def mean(get: Any) -> float:
        """Mean over the rows that have the value (a refused embed has no stego to score)."""
        values = []
        for r in rows:
            try:
                values.append(float(get(r)))
            except (KeyError, TypeError):
                continue
        return float(np.mean(values)) if values else float("nan")

    summary: dict[str, Any] = {"images": len(rows), "net_bpp": mean(lambda r: r["net_bpp"])}
    summary["cover"] = {k: mean(lambda r, k=k: r["cover_steganalysis"][k]) for k in _ANALYSES}
    for method in ("steg_cinn", "lsb"):
        if method not in rows[0]:
            continue
        part = {k: mean(lambda r, k=k, m=method: float(r[m][k])) for k in _METRICS}
        part.update({k: mean(lambda r, k=k, m=method: r[m]["steganalysis"][k]) for k in _ANALYSES})
        summary[method] = part
    ours = summary["steg_cinn"]
    ours["raw_sign_error_rate"] = mean(lambda r: r["steg_cinn"]["raw_sign_error_rate"])
    margins = [r["steg_cinn"].get("margin_bytes") for r in rows]
    ours["min_margin_bytes"] = min((m for m in margins if m is not None), default=None)
    ours["refused"] = [r["image"] for r in rows if "embed:" in str(r["steg_cinn"].get("error"))]
    return summary


_METRICS = (
    "success",
    "psnr_y",
    "ssim_y",
    "psnr_lstar",
    "psnr_rgb",
    "delta_e00",
    "embed_s",
    "extract_s",
)
_ANALYSES = ("chi2_all", "chi2_first10", "rs_rate")
