"""``invimg eval rescaling`` on a colour model: the grey-only baseline sits beside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from invimg.rescaling import IRNColor
from invimg.rescaling.evaluation import evaluate_rescaling


def _colourful(folder: Path, count: int = 2) -> None:
    rng = np.random.default_rng(3)
    for i in range(count):
        yy, xx = np.mgrid[0:24, 0:20] / 24.0
        base = np.stack([xx, yy, 1 - xx], -1) + 0.05 * rng.random((24, 20, 3))
        Image.fromarray(np.uint8(np.clip(base, 0, 1) * 255)).save(folder / f"{i}.png")


def test_colour_report_has_the_luma_baseline(tmp_path: Path) -> None:
    _colourful(tmp_path)
    untrained = IRNColor(IRNColor.Config(blocks=1, growth=4))
    report = evaluate_rescaling(untrained, tmp_path)
    rows = report["rows"]
    assert set(rows) == {"irn_color_z0", "luma_grey"}
    # an untrained model carries no colour in its grey: it restores what the luma alone gives
    assert abs(rows["irn_color_z0"]["psnr_rgb"] - rows["luma_grey"]["psnr_rgb"]) < 0.5
    assert rows["luma_grey"]["psnr_rgb"] < rows["irn_color_z0"]["psnr_y"] - 5
    assert "R = G = B" in report["markdown"]
