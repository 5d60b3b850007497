"""Resizing: the image is shrunk by a factor (a thumbnail, a messenger's preview) and
enlarged back to its size before it is revealed.

Training: antialiased bicubic interpolation in torch, down and up (differentiable).
Evaluation: what an image program does: Pillow's bicubic resampling (antialiased
when shrinking) on the 8-bit image, both ways, with an identity gradient.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .base import Distortion


class Resize(Distortion):
    """Down by ``strength`` (a factor in (0, 1]) and back up to the original size."""

    kind = "resize"
    unit = "scale factor"

    def __init__(self, strength: float = 0.5) -> None:
        if not 0 < strength <= 1:
            raise ValueError(f"resize: the scale factor must be in (0, 1], got {strength:g}")
        super().__init__(strength)

    def small_size(self, height: int, width: int) -> tuple[int, int]:
        """The intermediate size (at least one pixel each way)."""
        return max(1, round(height * self.strength)), max(1, round(width * self.strength))

    def approximate(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        size = tuple(x.shape[-2:])
        small = F.interpolate(
            x, size=self.small_size(*size), mode="bicubic", antialias=True, align_corners=False
        )
        return F.interpolate(small, size=size, mode="bicubic", align_corners=False)

    def exact(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        resized = torch.stack([self._pillow(image) for image in x.detach().cpu()])
        return x + (resized.to(device=x.device, dtype=x.dtype) - x).detach()

    def _pillow(self, image: Tensor) -> Tensor:
        height, width = image.shape[-2:]
        pixels = np.rint(image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        small_h, small_w = self.small_size(height, width)
        picture = Image.fromarray(pixels).resize((small_w, small_h), Image.Resampling.BICUBIC)
        picture = picture.resize((width, height), Image.Resampling.BICUBIC)
        return torch.from_numpy(np.asarray(picture).astype(np.float32) / 255).permute(2, 0, 1)

    def severity(self) -> float:
        return 1.0 - self.strength
