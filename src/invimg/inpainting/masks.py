"""Holes to fill: a free-form mask generator and the loading of user masks.

Convention. A *user* mask is an image whose white pixels are the hole (what
every inpainting tool expects). Inside invimg the networks take the
complement, ``known`` (1 = observed pixel, 0 = hole), as PD-GAN's ``M``; the
two meet only in :func:`load_mask` / :func:`known_from_hole`.

The generator draws what a user paints over an unwanted object: thick
brush strokes (random walks with round joints, as the irregular masks of
Liu et al. 2018 and DeepFill v2) and rectangles. It is *binned by hole
ratio*: :func:`random_hole` adds shapes until the hole covers at least
``lo`` of the image, refusing (and retrying thinner) any shape that would
push it past ``hi``, so every mask lands in ``[lo, hi]``. Drawing uses
Pillow's ``ImageDraw`` (already a dependency) and a NumPy generator, so a
mask is a pure function of its seed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from ..errors import InputImageError

#: The hole-ratio bins of the benchmark (fraction of the image that is hole).
EVAL_BINS: tuple[tuple[float, float], ...] = ((0.1, 0.3), (0.3, 0.5))
#: Bins drawn uniformly during training (PD-GAN trains on masks of 0–60 %).
TRAIN_BINS: tuple[tuple[float, float], ...] = ((0.05, 0.2), (0.1, 0.3), (0.3, 0.5), (0.45, 0.6))
#: A mask pixel is hole when its grey level is above this (0–255 scale).
HOLE_THRESHOLD = 127.5
#: Smallest relative shape size tried when a shape overshoots the bin, and the give-up count.
MIN_SHAPE_SCALE, MAX_SHAPE_TRIES = 0.02, 100_000
#: Share of grey pixels (neither near 0 nor near 255) above which a warning says so.
GREY_WARN_SHARE = 0.01


def random_hole(
    size: tuple[int, int], ratio: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """A boolean ``H×W`` hole (True = missing) covering a share of the image in ``ratio``.

    A target is drawn uniformly in the bin, then strokes (three in four
    shapes) and boxes are added until the hole reaches it; a shape that
    would overshoot ``ratio[1]`` is redrawn smaller, so the loop always ends
    inside the bin.
    """
    lo, hi = ratio
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"ratio must satisfy 0 <= lo < hi <= 1, got {ratio}")
    h, w = size
    canvas = Image.new("L", (w, h), 0)
    hole = np.zeros((h, w), dtype=bool)
    scale = 1.0
    target = rng.uniform(lo, hi)
    for _ in range(MAX_SHAPE_TRIES):
        if hole.mean() >= target:
            return hole
        trial = canvas.copy()
        draw = ImageDraw.Draw(trial)
        if rng.random() < 0.75:
            _stroke(draw, (h, w), rng, scale)
        else:
            _box(draw, (h, w), rng, scale)
        candidate = np.asarray(trial) > 0
        if candidate.mean() <= hi:
            canvas, hole, scale = trial, candidate, 1.0
        elif scale <= MIN_SHAPE_SCALE and hole.mean() >= lo:
            return hole  # even the smallest shape overshoots: stop inside the bin, below target
        else:  # too big: try a smaller shape next
            scale = max(scale * 0.6, MIN_SHAPE_SCALE)
    if lo <= hole.mean() <= hi:
        return hole
    raise RuntimeError(f"could not draw a {size} hole in the ratio bin {ratio}")


def _stroke(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], rng: np.random.Generator, scale: float
) -> None:
    """A brush stroke: a random walk of 3–10 segments with round caps and joints."""
    h, w = size
    side = min(h, w)
    width = max(1, round(side * rng.uniform(0.03, 0.12) * math.sqrt(scale)))
    x, y = rng.uniform(0, w), rng.uniform(0, h)
    angle = rng.uniform(0, 2 * math.pi)
    points = [(x, y)]
    for _ in range(int(rng.integers(3, 11))):
        angle += rng.uniform(-1.2, 1.2)
        length = side * rng.uniform(0.05, 0.25) * scale
        x = float(np.clip(x + length * math.cos(angle), 0, w - 1))
        y = float(np.clip(y + length * math.sin(angle), 0, h - 1))
        points.append((x, y))
    draw.line(points, fill=255, width=width, joint="curve")
    r = width / 2
    for px, py in (points[0], points[-1]):
        draw.ellipse((px - r, py - r, px + r, py + r), fill=255)


def _box(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], rng: np.random.Generator, scale: float
) -> None:
    """An axis-aligned rectangle of 10–45 % of each side (times ``scale``)."""
    h, w = size
    bh = max(1, round(h * rng.uniform(0.1, 0.45) * math.sqrt(scale)))
    bw = max(1, round(w * rng.uniform(0.1, 0.45) * math.sqrt(scale)))
    top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    draw.rectangle((left, top, left + bw - 1, top + bh - 1), fill=255)


def training_known(
    batch: int, size: tuple[int, int], rng: np.random.Generator, bins: Sequence[tuple[float, float]]
) -> Tensor:
    """``batch`` masks as a ``B×1×H×W`` float ``known`` tensor, each from a random bin."""
    holes = [random_hole(size, bins[int(rng.integers(len(bins)))], rng) for _ in range(batch)]
    return known_from_hole(np.stack(holes))


def known_from_hole(hole: np.ndarray | Tensor) -> Tensor:
    """``known`` (1 = observed) as ``B×1×H×W`` float32 from a boolean hole of H×W or B×H×W."""
    t = torch.as_tensor(np.asarray(hole, dtype=bool))
    if t.dim() == 2:
        t = t[None]
    return (~t).float()[:, None]


def load_mask(mask: Any, size: tuple[int, int] | None = None, name: str = "mask") -> np.ndarray:
    """A user mask (path, PIL image, array or tensor; white = hole) as a boolean ``H×W`` hole.

    Colour masks are reduced to their grey level; an alpha channel is
    ignored by the reader's rules (transparent = white = hole is *not*
    assumed). Grey levels are thresholded at 50 %; a mask with more than 1 %
    of clearly grey pixels (anti-aliased brush, JPEG) gets a ``UserWarning``
    saying so. ``size`` (H, W), when given, must match: a mask is never
    silently resized, since a shifted hole would overwrite the wrong pixels.
    """
    grey = _grey_levels(mask, name)
    if size is not None and grey.shape != tuple(size):
        raise InputImageError(
            f"{name} is {grey.shape[1]}×{grey.shape[0]} but the image is {size[1]}×{size[0]}; "
            "they must have the same size"
        )
    shade = (grey > 8) & (grey < 247)
    if shade.mean() > GREY_WARN_SHARE:
        warnings.warn(
            f"{name} is not black and white ({100 * shade.mean():.1f}% grey pixels); "
            "pixels lighter than 50% grey are taken as hole",
            UserWarning,
            stacklevel=2,
        )
    return np.asarray(grey > HOLE_THRESHOLD)


def _grey_levels(mask: Any, name: str) -> np.ndarray:
    """The mask's grey levels on a 0–255 scale (float ``H×W``); colour becomes its luma."""
    from ..io import as_image_tensor

    if isinstance(mask, np.ndarray | Tensor) and mask.dtype in (np.bool_, torch.bool):
        mask = np.asarray(mask, dtype=np.uint8) * 255
    with warnings.catch_warnings():  # a colour scribble is fine: its luma is used
        warnings.simplefilter("ignore")
        grey = as_image_tensor(mask, name, grey=True)
    return grey[0, 0].double().numpy() * 255.0
