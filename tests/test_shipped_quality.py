"""The default shipped models beat the classical baselines on the demo's photo.

A guard against shipping a worse model: what `invimg demo` shows a new user
(the bundled 256² astronaut and cat) must keep the stego closer to the cover
than 4-bit LSB after an 8-bit PNG, and restore a ×2 / ×4 downscale better
than bicubic down + up. The full measurements are in BENCHMARKS.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from invimg.hiding.api import default_model, hide, reveal
from invimg.hiding.baselines import lsb_hide
from invimg.io import quantize_8bit, read_image, write_image
from invimg.metrics import quality_report
from invimg.rescaling.api import default_rescaling_model, downscale, upscale

ASSETS = Path(__file__).resolve().parents[1] / "src" / "invimg" / "assets"


def _bundled(name: str) -> np.ndarray:
    return np.asarray(read_image(ASSETS / name).pixels)


def _bicubic(image: np.ndarray, scale: int) -> np.ndarray:
    h, w = image.shape[0] // scale, image.shape[1] // scale
    pil = Image.fromarray(quantize_8bit(image))
    down = pil.resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(down.resize((w * scale, h * scale), Image.Resampling.BICUBIC))


def test_default_hiding_stego_beats_4bit_lsb_after_png(tmp_path: Path) -> None:
    cover, secret = _bundled("cover.png"), _bundled("secret.png")
    model = default_model(1)
    write_image(tmp_path / "stego.png", hide(cover, [secret], model=model))
    stego = np.asarray(read_image(tmp_path / "stego.png").pixels)
    (revealed,) = reveal(stego, model=model)
    lsb = lsb_hide(quantize_8bit(cover), [quantize_8bit(secret)])
    assert quality_report(cover, stego)["psnr_rgb"] > quality_report(cover, lsb)["psnr_rgb"]
    assert quality_report(secret, revealed)["psnr_rgb"] > 28.0  # recognisably the secret


@pytest.mark.parametrize("scale", [2, 4])
def test_default_rescaling_restores_better_than_bicubic(scale: int, tmp_path: Path) -> None:
    photo = _bundled("cover.png")
    model = default_rescaling_model(scale)
    write_image(tmp_path / "lr.png", downscale(photo, scale=scale, model=model))
    restored = upscale(np.asarray(read_image(tmp_path / "lr.png").pixels), model=model)
    ours = quality_report(photo, restored, crop_border=scale)["psnr_y"]
    bicubic = quality_report(photo, _bicubic(photo, scale), crop_border=scale)["psnr_y"]
    assert ours > bicubic + 1.0
