"""Can IRN-Color's objective restore colour at all? Train it on one crop and watch.

A diagnostic for issue #17: full training of ``irn-color-z0-cpu.yaml`` on this
CPU restores no colour in its first ~1,000 steps. This trains the same model
with the same loss (``RescalingTask.training_step``: grey fitted to the luma,
colour restored from the 8-bit grey with z = 0) on a single crop, and prints
the colour PSNR (RGB, 8-bit, through the quantised grey, z = 0) beside that of
the luma alone shown as colour. If the colour rises far above the luma's, the
model, quantiser and loss can carry colour; what full training lacks is steps.

    OMP_NUM_THREADS=1 python benchmarks/irn_color_one_crop.py data/train/goldfish.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from invimg.io import read_image
from invimg.metrics import psnr
from invimg.rescaling.color import luma
from invimg.rescaling.task import RescalingTask
from invimg.training.config import load_config
from invimg.training.train_all import recipe_path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("image", type=Path)
    p.add_argument("--recipe", default="irn-color-z0-cpu")
    p.add_argument("--crop", type=int, default=32)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args()
    torch.manual_seed(0)
    task = RescalingTask(load_config(recipe_path(args.recipe)))
    model = task.build_model()
    pixels = torch.from_numpy(np.array(read_image(args.image).pixels, dtype=np.float32))
    top, left = (s // 2 - args.crop // 2 for s in pixels.shape[:2])
    crop = pixels[top : top + args.crop, left : left + args.crop].permute(2, 0, 1)[None]
    baseline = psnr(luma(crop).expand(-1, 3, -1, -1), crop, quantize=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"luma as colour: {baseline:.2f} dB RGB")
    for step in range(1, args.steps + 1):
        loss, _ = task.training_step(model, crop, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            model.eval()
            metrics = task.validation_step(model, crop)
            model.train()
            print(
                f"step {step}: colour {metrics['psnr_rgb_z0']:.2f} dB RGB, "
                f"grey vs luma {metrics['psnr_grey']:.2f} dB"
            )


if __name__ == "__main__":
    main()
