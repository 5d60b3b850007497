"""The default shipped models beat the classical baselines on the demo's photos.

A guard against shipping a worse model: on the photos `invimg demo` shows a
new user (the bundled 256² astronaut and cat), measured by the same
evaluators as BENCHMARKS.md (8-bit PNG round trips, the baseline on the same
images), the default hiding model keeps its stego closer to the cover than
4-bit LSB, the default ×2 / ×4 models restore better than bicubic, and the
default colour model restores colour from its 8-bit grey image alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from invimg.hiding.api import default_model
from invimg.hiding.evaluation import evaluate_hiding
from invimg.rescaling.api import default_color_model, default_rescaling_model
from invimg.rescaling.evaluation import evaluate_rescaling

ASSETS = Path(__file__).resolve().parents[1] / "src" / "invimg" / "assets"


@pytest.fixture
def demo_photos(tmp_path: Path) -> Path:
    for name in ("cover.png", "secret.png"):
        shutil.copy(ASSETS / name, tmp_path / name)
    return tmp_path


def test_default_hiding_stego_beats_4bit_lsb_after_png(demo_photos: Path) -> None:
    summary = evaluate_hiding(default_model(1), demo_photos, size="256")["summary"]
    model, lsb = summary["model"], summary["lsb4"]
    assert model["stego"]["psnr_rgb"] > lsb["stego"]["psnr_rgb"]
    revealed = [v["psnr_rgb"] for k, v in model.items() if k.startswith("secret")]
    assert min(revealed) > 28.0  # recognisably the secret


@pytest.mark.parametrize("scale", [2, 4])
def test_default_rescaling_restores_better_than_bicubic(scale: int, demo_photos: Path) -> None:
    rows = evaluate_rescaling(default_rescaling_model(scale), demo_photos)["rows"]
    assert rows["irn_z0"]["psnr_y"] > rows["bicubic"]["psnr_y"] + 1.0
    assert rows["irn_z0"]["lr_psnr_y"] > 36.0  # the LR looks like an ordinary downscale


def test_default_colour_model_restores_colour_from_its_grey_image(demo_photos: Path) -> None:
    rows = evaluate_rescaling(default_color_model(), demo_photos)["rows"]
    colour, luma_only = rows["irn_color_z0"]["psnr_rgb"], rows["luma_grey"]["psnr_rgb"]
    assert colour > luma_only + 10.0  # 33.6 against 18.0 dB when shipped
    assert rows["irn_color_z0"]["grey_psnr"] > 36.0  # the grey looks like the standard luma
