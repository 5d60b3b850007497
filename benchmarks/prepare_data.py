"""Lay out the shared photos for training and evaluation (run once; output is git-ignored).

    python benchmarks/prepare_data.py [--shared ../shared/data] [--out data] [--train-side 1024]

* ``data/train/``: every shared image not listed in ``benchmarks/holdout.txt``,
  resized (Lanczos) so its long side is ``--train-side`` and saved as PNG. The
  source photos are 2048-px JPEGs; halving them removes most JPEG blocking,
  which a rescaling model would otherwise learn to reproduce, and makes a
  training crop hold more scene (as DIV2K crops do).
* ``data/train768/`` and ``data/train512/``: the same training images with their long
  side at 768 and 512 px, for recipes that train on content as sharp as the
  held-out crops and a user's photos (``hinet-texture-cpu.yaml``): a 128² crop of the
  1024-px set is smoother per pixel than a 128² crop of the 768- or 512-px one.
* ``data/holdout/``: the held-out images at full size as PNG (lossless from
  here on), for validation and for every number in BENCHMARKS.md.
* ``data/holdout256/``: a 256×256 centre crop of each held-out image after
  resizing its short side to 512, for the 256×256 benchmark rows.
* ``data/holdout1024/``, ``data/holdout768/`` and ``data/holdout512/``: the held-out
  images with their long side resized (Lanczos) to 1024, 768 and 512 px, as sharp as
  a user's photos. Hiding is measured on 256×256 centre crops of the 768-px set
  (``invimg eval hiding … --size 256``) and on the whole 1024-px images
  (``--size full``), rescaling on the whole 512-px images (modcropped by the
  evaluation).
* The wider split of ``benchmarks/holdout20.txt`` (20 held-out images) for the
  models trained on little data (steg-cinn, the HOG decoder, PD-GAN):
  ``data/train-small/`` (the other 10, long side ``--train-side``),
  ``data/holdout20/`` (full size), ``data/holdout20-512/`` and
  ``data/holdout20-256/`` (centre crops after resizing the short side to 2× the crop).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def holdout_list(name: str = "holdout.txt") -> list[str]:
    lines = (HERE / name).read_text().splitlines()
    return [s.strip() for s in lines if s.strip() and not s.startswith("#")]


def save_png(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=False)


def resize_long_side(img: Image.Image, side: int) -> Image.Image:
    scale = side / max(img.size)
    if scale >= 1:
        return img
    size = (round(img.width * scale), round(img.height * scale))
    return img.resize(size, Image.Resampling.LANCZOS)


def centre_crop(img: Image.Image, side: int = 256) -> Image.Image:
    """A ``side``-square centre crop after resizing the short side to ``2 * side``."""
    scale = 2 * side / min(img.size)
    img = img.resize(
        (round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS
    )
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE.parent / "data")
    parser.add_argument("--train-side", type=int, default=1024)
    args = parser.parse_args()
    held = set(holdout_list())
    held20 = set(holdout_list("holdout20.txt"))
    sources = sorted(p for p in args.shared.rglob("*.jpg"))
    for src in sources:
        rel = src.relative_to(args.shared).as_posix()
        name = src.stem + ".png"
        img = Image.open(src).convert("RGB")
        if rel in held:
            save_png(img, args.out / "holdout" / name)
            save_png(centre_crop(img), args.out / "holdout256" / name)
            for side in (1024, 768, 512):
                save_png(resize_long_side(img, side), args.out / f"holdout{side}" / name)
        else:
            save_png(resize_long_side(img, args.train_side), args.out / "train" / name)
            for side in (768, 512):
                save_png(resize_long_side(img, side), args.out / f"train{side}" / name)
        if rel in held20:
            save_png(img, args.out / "holdout20" / name)
            save_png(centre_crop(img, 512), args.out / "holdout20-512" / name)
            save_png(centre_crop(img), args.out / "holdout20-256" / name)
        else:
            save_png(resize_long_side(img, args.train_side), args.out / "train-small" / name)
    print(f"train: {len(sources) - len(held)} images, holdout: {len(held)} images -> {args.out}")
    print(f"train-small: {len(sources) - len(held20)} images, holdout20: {len(held20)} images")


if __name__ == "__main__":
    main()
