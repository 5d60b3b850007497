"""Where does a trained IRN-Color keep the colour: in the grey image, or in ``z``?

A diagnostic for issue #17. Users colourise from the 8-bit grey with ``z = 0``;
that only works if the forward pass leaves ``z`` ≈ 0 *and* the inverse is not
sensitive to what is left. This prints, per held-out photo (centre crop), the
colour PSNR (RGB, 8-bit) restored three ways, beside the luma shown as colour:

- 8-bit grey, ``z = 0`` (what ``invimg colorize`` does);
- float grey, ``z = 0`` (is the quantiser to blame?);
- 8-bit grey with the encoder's own ``z`` (is the colour there at all?);

and the RMS of ``z``. A model that has learned to carry colour in the grey
scores alike in the first and third columns.

    OMP_NUM_THREADS=1 python benchmarks/irn_color_latent.py \
        runs/cards/irn-color-long.json data/holdout512
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from invimg.io import quantize_st, read_image
from invimg.metrics import psnr
from invimg.rescaling.color import IRNColor, luma
from invimg.zoo import load


def centre_crop(path: Path, size: int) -> torch.Tensor:
    """A (1, 3, size, size) float crop from the middle of the photo."""
    pixels = torch.from_numpy(np.array(read_image(path).pixels, dtype=np.float32))
    top, left = (max(0, (s - size) // 2) for s in pixels.shape[:2])
    return pixels[top : top + size, left : left + size].permute(2, 0, 1)[None].contiguous()


@torch.no_grad()
def measure(model: IRNColor, rgb: torch.Tensor) -> dict[str, float]:
    """Colour PSNRs of the three restorations and the RMS of ``z`` for one image."""
    grey, z = model.encode(rgb)
    grey_8bit = quantize_st(grey)

    def score(restored: torch.Tensor) -> float:
        return round(psnr(restored.clamp(0, 1), rgb, quantize=True), 2)

    return {
        "grey8_z0": score(model.decode(grey_8bit)),
        "float_grey_z0": score(model.decode(grey)),
        "grey8_own_z": score(model.decode(grey_8bit, z)),
        "luma_as_colour": score(luma(rgb).expand(-1, 3, -1, -1)),
        "z_rms": round(float(z.pow(2).mean().sqrt()), 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("model", help="a model card (or shipped name) of an IRN-Color")
    p.add_argument("folder", type=Path)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    model = load(args.model).float().eval()
    if not isinstance(model, IRNColor):
        raise SystemExit(f"error: {args.model} is not an IRN-Color model")
    rows = {
        f.name: measure(model, centre_crop(f, args.crop)) for f in sorted(args.folder.glob("*.png"))
    }
    for name, row in rows.items():
        print(name, json.dumps(row))
    mean = {
        k: round(float(np.mean([r[k] for r in rows.values()])), 2)
        for k in next(iter(rows.values()))
    }
    print("mean", json.dumps(mean))
    if args.json:
        args.json.write_text(
            json.dumps({"crop": args.crop, "rows": rows, "mean": mean}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
