"""``evaluate_rescaling``: IRN's published protocol, on what a user actually gets.

Protocol (IRN's ``test.py`` + ``calculate_PSNR_SSIM``), stated in every report:

* HR cropped at the bottom/right to a multiple of the scale (IRN's ``modcrop``);
* the LR image is written as an 8-bit PNG and read back before upscaling;
* restored HR rounded to 8 bits, then PSNR and SSIM on Y (BT.601, studio
  swing, as MATLAB's ``rgb2ycbcr``) with ``scale`` pixels cropped per border;
* upscaling with ``z = 0`` and with ``z ~ N(0, I)`` (seed 0);
* baselines: PIL bicubic and Lanczos down + up (the LR also 8-bit);
* LR quality: PSNR (Y, no crop) of IRN's LR against the antialiased bicubic LR.

For IRN-Color: grey (8-bit PNG) vs the BT.601 luma, colourised (``z = 0``)
vs the original on RGB and Y, no crop.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from ..distortions.jpeg import jpeg_encode, jpeg_round_trip
from ..errors import InputImageError
from ..io import read_image, to_tensor, write_image
from ..io.images import IMAGE_SUFFIXES, list_images
from ..metrics import psnr, ssim
from .api import downscale_tensor, resolve_model, upscale_tensor
from .color import IRNColor, luma
from .compression import IRNJPEG
from .irn import IRN
from .losses import bicubic_downscale

#: IRN paper (ECCV 2020), DIV2K validation, Y channel, border crop = scale.
PUBLISHED_PSNR_Y = {2: 44.32, 4: 35.07}


def evaluate_rescaling(
    model: str | os.PathLike[str] | nn.Module,
    folder: str | os.PathLike[str],
    *,
    limit: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean metrics over the images of ``folder``; keys ``rows``, ``protocol``, ``markdown``."""
    kinds = (IRN, IRNJPEG, IRNColor)
    net = resolve_model(model, "irn-x4", kind=kinds, what="rescaling or IRN-Color")
    files = list_images(folder)
    files = files[:limit] if limit else files
    if not files:
        raise InputImageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    per_image = [_evaluate_one(net, f, seed) for f in files]
    rows = {method: _mean([p[method] for p in per_image]) for method in per_image[0]}
    report: dict[str, Any] = {
        "model": str(model) if not isinstance(model, nn.Module) else type(model).__name__,
        "images": len(files),
        "protocol": _protocol(net),
        "rows": rows,
        "published_psnr_y_div2k": PUBLISHED_PSNR_Y.get(net.scale) if isinstance(net, IRN) else None,
        "per_image": [{"image": f.name, **p} for f, p in zip(files, per_image)],
    }
    if "irn_z0" in rows and "bicubic" in rows:
        report["worst"] = _worst(per_image)
    report["markdown"] = markdown(report)
    return report


PROTOCOL = (
    "HR modcropped to ×{s}; LR saved as 8-bit PNG and read back; outputs rounded to 8 bits; "
    "PSNR/SSIM on Y (BT.601 studio swing), {s} px border crop; z=0 and z~N(0,I) seed 0; "
    "baselines: PIL bicubic / Lanczos down+up; LR vs antialiased-bicubic LR on Y, no crop"
)
PROTOCOL_JPEG = (
    "HR modcropped to ×{s}; LR rounded to 8 bits, then through the real JPEG codec (Pillow, "
    "quality {q}, 4:2:0) as IRN-Compression's test; HR with z=0, with and without the CRM, and "
    "from the uncompressed LR; PSNR/SSIM on Y, {s} px border crop; bicubic baseline JPEG'd too"
)
PROTOCOL_COLOR = (
    "grey saved as 8-bit PNG and read back; grey vs BT.601 full-range luma; colourised with z=0 "
    "vs original, 8-bit, PSNR on RGB and Y, no crop; baseline: the 8-bit luma shown as colour "
    "(R = G = B)"
)


def _worst(per_image: list[dict[str, dict[str, float]]]) -> dict[str, float]:
    """The least favourable image: a mean can hide one LR that no longer looks like a downscale."""
    gains = [p["irn_z0"]["psnr_y"] - p["bicubic"]["psnr_y"] for p in per_image]
    worst = {"gain_over_bicubic_db": min(gains)}
    lrs = [p["irn_z0"]["lr_psnr_y"] for p in per_image if "lr_psnr_y" in p["irn_z0"]]
    if lrs:
        worst["lr_psnr_y"] = min(lrs)
    return worst


def _mean(items: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([i[k] for i in items])) for k in items[0]}


@torch.no_grad()
def _evaluate_one(net: nn.Module, path: Path, seed: int) -> dict[str, dict[str, float]]:
    hr = to_tensor(np.asarray(read_image(path).pixels))
    if isinstance(net, IRNColor):
        return _evaluate_color(net, hr)
    assert isinstance(net, IRN | IRNJPEG)
    s = net.scale
    h, w = hr.shape[-2] - hr.shape[-2] % s, hr.shape[-1] - hr.shape[-1] % s
    hr = hr[..., :h, :w]
    lr = _png_round_trip(downscale_tensor(net, hr))
    if isinstance(net, IRNJPEG):
        return _evaluate_jpeg(net, hr, lr)
    rows = {
        "irn_z0": _hr_metrics(upscale_tensor(net, lr, z="zeros"), hr, s),
        "irn_zgauss": _hr_metrics(upscale_tensor(net, lr, z="gaussian", seed=seed), hr, s),
        "bicubic": _hr_metrics(_pil_down_up(hr, s, Image.Resampling.BICUBIC), hr, s),
        "lanczos": _hr_metrics(_pil_down_up(hr, s, Image.Resampling.LANCZOS), hr, s),
    }
    ref = bicubic_downscale(hr, s).clamp(0, 1)
    rows["irn_z0"]["lr_psnr_y"] = psnr(lr, ref, channel="y", quantize=True)
    return rows


def _hr_metrics(out: Tensor, hr: Tensor, s: int) -> dict[str, float]:
    out = out.cpu()
    return {
        "psnr_y": psnr(out, hr, channel="y", crop_border=s, quantize=True),
        "ssim_y": ssim(out, hr, channel="y", crop_border=s, quantize=True),
    }


def _evaluate_jpeg(net: IRNJPEG, hr: Tensor, lr: Tensor) -> dict[str, dict[str, float]]:
    """LR through the real JPEG codec (4:2:0, the model's quality), with and without the CRM.

    The JPEG rows carry their rate: bits of the LR JPEG file per LR pixel
    (``lr_bpp``) and per pixel of the HR image it stands for (``hr_bpp``).
    """
    s, q = net.scale, net.jpeg_quality
    compressed = jpeg_round_trip(lr[0], q)[None]
    irn_rate = _jpeg_rate(lr[0], q, s)
    bicubic_lr = _pil_down(hr, s, Image.Resampling.BICUBIC)
    return {
        "irn_png_z0": _hr_metrics(net.irn.decode(lr.to(_device(net))), hr, s),
        f"irn_jpeg{q}_no_crm_z0": {
            **_hr_metrics(net.irn.decode(compressed.to(_device(net))), hr, s),
            **irn_rate,
        },
        f"irn_jpeg{q}_crm_z0": {**_hr_metrics(upscale_tensor(net, compressed), hr, s), **irn_rate},
        f"bicubic_jpeg{q}": {
            **_hr_metrics(_pil_down_up(hr, s, Image.Resampling.BICUBIC, q), hr, s),
            **_jpeg_rate(to_tensor(np.asarray(bicubic_lr, dtype=np.float32) / 255)[0], q, s),
        },
    }


def _jpeg_rate(lr: Tensor, quality: int, scale: int) -> dict[str, float]:
    """Bits per LR pixel and per HR pixel of ``lr`` (3×h×w) written as a JPEG."""
    bits = 8 * len(jpeg_encode(lr.cpu(), quality))
    lr_pixels = lr.shape[-2] * lr.shape[-1]
    return {"lr_bpp": bits / lr_pixels, "hr_bpp": bits / (lr_pixels * scale * scale)}


def _device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device


def _evaluate_color(net: IRNColor, rgb: Tensor) -> dict[str, dict[str, float]]:
    grey = _png_round_trip(downscale_tensor(net, rgb).expand(-1, 3, -1, -1))[:, :1]
    out = upscale_tensor(net, grey).cpu()
    target = torch.round(luma(rgb).clamp(0, 1) * 255) / 255
    mse = float((grey.cpu() - target).pow(2).mean())
    return {
        "irn_color_z0": {
            "psnr_rgb": psnr(out, rgb, quantize=True),
            "psnr_y": psnr(out, rgb, channel="y", quantize=True),
            "grey_psnr": float(-10 * np.log10(max(mse, 1e-12))),
        },
        # the baseline: the standard 8-bit luma shown as a colour image (R = G = B)
        "luma_grey": {"psnr_rgb": psnr(target.expand(-1, 3, -1, -1), rgb, quantize=True)},
    }


def _png_round_trip(x: Tensor) -> Tensor:
    """Write ``x`` (1×3×H×W in [0, 1]) as an 8-bit PNG and read it back."""
    pixels = x[0].permute(1, 2, 0).cpu().numpy()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lr.png"
        write_image(path, pixels)
        return to_tensor(np.asarray(read_image(path).pixels))


def _pil_down(hr: Tensor, s: int, method: Image.Resampling) -> Image.Image:
    """8-bit PIL resize down by ``s``."""
    img = Image.fromarray(np.rint(hr[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    w, h = img.size
    return img.resize((w // s, h // s), method)


def _pil_down_up(
    hr: Tensor, s: int, method: Image.Resampling, jpeg_quality: int | None = None
) -> Tensor:
    """8-bit PIL resize down by ``s`` (optionally JPEG'd) and back up with the same filter."""
    h, w = hr.shape[-2:]
    small = _pil_down(hr, s, method)
    if jpeg_quality is not None:
        small_t = torch.from_numpy(np.asarray(small, dtype=np.float32) / 255).permute(2, 0, 1)
        small_q = jpeg_round_trip(small_t, jpeg_quality).permute(1, 2, 0).numpy()
        small = Image.fromarray(np.rint(small_q * 255).astype(np.uint8))
    big = np.asarray(small.resize((w, h), method), dtype=np.float32) / 255
    return to_tensor(big)


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table with its protocol."""
    rows = report["rows"]
    keys = sorted({k for r in rows.values() for k in r})
    lines = [f"| method | {' | '.join(keys)} |", "|---" * (len(keys) + 1) + "|"]
    published = report.get("published_psnr_y_div2k")
    table = dict(rows)
    if published:
        table["IRN paper (DIV2K val, their data)"] = {"psnr_y": published}
    for method, values in table.items():
        cells = [_cell(k, values.get(k)) for k in keys]
        lines.append(f"| {method} | {' | '.join(cells)} |")
    lines.append("")
    if worst := report.get("worst"):
        parts = [f"{k.replace('_', ' ')} {v:.2f}" for k, v in worst.items()]
        lines += [f"Worst image (z = 0): {', '.join(parts)}.", ""]
    lines.append(
        f"{report['images']} image(s), model {report['model']}. Protocol: {report['protocol']}."
    )
    return "\n".join(lines)


def _cell(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if "ssim" in key else f"{value:.3f}" if "bpp" in key else f"{value:.2f}"


def _protocol(net: nn.Module) -> str:
    if isinstance(net, IRNColor):
        return PROTOCOL_COLOR
    if isinstance(net, IRNJPEG):
        return PROTOCOL_JPEG.format(s=net.scale, q=net.jpeg_quality)
    return PROTOCOL.format(s=net.scale)
