"""A learned baseline: a small convolutional decoder from HOG back to a grey image.

In the spirit of HOGgle (Vondrick et al., ICCV 2013), which learns a paired
dictionary from HOG to pixels by least squares, the decoder is trained to
regress the grey image from its HOG with a squared pixel error on photos
(``invimg train inversion --config hog-decoder-cpu``). HOG does not know an
image's brightness or contrast, so the target is the standardised image
(zero mean, unit standard deviation per crop), as HOGgle's outputs are
shown normalised. It answers in one
forward pass where optimisation takes seconds, and it is the baseline the
optimisation must beat on the CVPR 2015 error (see BENCHMARKS.md)::

    HOG (N, 27, h, w) ─ conv3×3 → w0 ─ ReLU ─ conv3×3 ─ ReLU             (1/8 size)
                      ─ [conv3×3 → 4c ─ PixelShuffle ×2 ─ ReLU] × log2(b)  (up to full size)
                      ─ conv3×3 → 1                      standardised grey (N, 1, b·h, b·w)

Each HOG cell (b×b pixels) becomes one b×b block of output, so the output
lines up with the cells: pixels the HOG grid does not cover (a side that is
not a multiple of b) are filled by replicating the border.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from ..zoo import register_architecture
from .hog import HOG

#: The standard deviation a decoded image is shown with (a typical photo's, in [0, 1] units).
DISPLAY_STD = 0.2


@register_architecture("hog-decoder")
class HOGDecoder(nn.Module):
    """HOG cells → standardised grey image ``(N, 1, b·h, b·w)`` (see the module docstring)."""

    @dataclass
    class Config:
        cell_size: int = 8
        orientations: int = 9
        binning: Literal["hard", "soft"] = "hard"
        width: int = 64

    def __init__(self, config: Config) -> None:
        super().__init__()
        steps = int(math.log2(config.cell_size))
        if config.cell_size < 2 or 2**steps != config.cell_size:
            raise ValueError(f"cell_size must be a power of 2, got {config.cell_size}")
        if config.width < 8:
            raise ValueError(f"width must be >= 8, got {config.width}")
        self.config = config
        c = config.width
        layers: list[nn.Module] = [
            nn.Conv2d(3 * config.orientations, c, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(inplace=True),
        ]
        for _ in range(steps):
            out = max(c // 2, 8)
            layers += [nn.Conv2d(c, 4 * out, 3, padding=1), nn.PixelShuffle(2), nn.ReLU(True)]
            c = out
        layers.append(nn.Conv2d(c, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def hog(self) -> HOG:
        """The HOG this decoder inverts."""
        cfg = self.config
        return HOG(cfg.cell_size, cfg.orientations, cfg.binning)

    def forward(self, features: Tensor) -> Tensor:
        out: Tensor = self.body(features)
        return out

    def decode(self, features: Tensor, size: tuple[int, int]) -> Tensor:
        """A grey image of ``size`` (H, W) in [0, 1] units whose HOG is ``features``."""
        return self.display(self(features), size)

    @staticmethod
    def display(raw: Tensor, size: tuple[int, int]) -> Tensor:
        """The network's standardised output ``raw`` as an image of ``size`` (H, W).

        Shown as ``0.5 + DISPLAY_STD · raw`` (HOG gives no contrast to
        restore); borders the cells do not cover are replicated. Kept apart
        from the forward pass, which is the exported graph
        (:mod:`invimg.inference`), so every backend shares it.
        """
        out = 0.5 + DISPLAY_STD * raw
        pad_h, pad_w = size[0] - out.shape[-2], size[1] - out.shape[-1]
        if pad_h < 0 or pad_w < 0:
            raise ValueError(f"features giving {tuple(raw.shape)} do not fit an image of {size}")
        if pad_h or pad_w:
            out = F.pad(out, (0, pad_w, 0, pad_h), mode="replicate")
        return out
