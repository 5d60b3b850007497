"""Dense SIFT as a differentiable network (Mahendran & Vedaldi's ``dsift_net.m``).

::

    grey ×255 ─ 2·O directional derivatives (O = 4: 8 directions, no padding)
             ─ soft orientation binning (bilinear in angle, as HOGb)
             ─ bilinear spatial pooling into b×b cells (2b×2b triangle, stride b)
             ─ descriptors of 4×4 cells, Gaussian-weighted (σ = 1.5 cells),
               one every 3 cells: 4·4·8 = 128 values
             ─ L2 normalisation, clamp at 0.2
    → (N, 128, ⌊(h − 4)/3⌋ + 1, ⌊(w − 4)/3⌋ + 1),  h = ⌊(H − 2 − 2b)/b⌋ + 1 cells

As in the authors' network (and unlike Lowe's SIFT) the descriptor is not
re-normalised after clamping. The CVPR 2015 experiments use b = 5, the IJCV
2016 ones b = 8 (our default).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .hog import (
    CLAMP,
    LayoutCache,
    cell_histograms,
    image_gradient,
    orientation_votes,
    triangle,
)
from .representation import Representation

#: Cells per descriptor side, and the step between descriptors (in cells).
SPATIAL_BINS, DESCRIPTOR_STEP = 4, 3
#: Gaussian weighting of the cells inside a descriptor (in cells).
SIGMA = 1.5


def cell_weights() -> Tensor:
    """``(16,)`` Gaussian weights of the 4×4 cells, row-major."""
    centre = (SPATIAL_BINS - 1) / 2
    idx = torch.arange(SPATIAL_BINS, dtype=torch.float64) - centre
    grid = idx.view(-1, 1).pow(2) + idx.view(1, -1).pow(2)
    return torch.exp(-0.5 * grid / SIGMA**2).flatten().float()


class DenseSIFT(Representation):
    """Dense SIFT of a grey image: ``(N, 1, H, W)`` in [0, 1] → ``(N, 128, h', w')``.

    Example: 256×256, b = 8 → 30×30 cells → ``(N, 128, 9, 9)``.
    """

    in_channels = 1
    contrast_invariant = True
    label = "DSIFT"
    triangle: Tensor
    weights: Tensor

    def __init__(self, cell_size: int = 8, orientations: int = 4):
        super().__init__()
        if cell_size < 2:
            raise ValueError(f"cell_size must be >= 2, got {cell_size}")
        self.cell_size, self.orientations = cell_size, orientations
        self.stride = cell_size * DESCRIPTOR_STEP
        self.register_buffer("triangle", triangle(cell_size))
        self.register_buffer("weights", cell_weights())
        self._layout = LayoutCache()

    def min_size(self) -> int:
        """The smallest side that gives one descriptor."""
        return 2 + (SPATIAL_BINS + 1) * self.cell_size

    def forward(self, grey: Tensor) -> Tensor:
        if grey.shape[1] != 1 or min(grey.shape[-2:]) < self.min_size():
            raise ValueError(
                f"dense SIFT needs (N, 1, H, W) with H, W >= {self.min_size()}, "
                f"got {tuple(grey.shape)}"
            )
        gx, gy = image_gradient(grey * 255, pad=False)
        votes = orientation_votes(gx, gy, self.orientations, "soft")
        layout = self._layout.get(gx.shape[-2], gx.shape[-1], self.triangle, self.cell_size, 0)
        cells = cell_histograms(votes, layout, 2 * self.orientations)
        n, c, h = cells.shape[:3]
        cols = F.unfold(cells, SPATIAL_BINS, stride=DESCRIPTOR_STEP)  # (N, c·16, L)
        cols = cols.view(n, c, SPATIAL_BINS**2, -1) * self.weights.view(1, 1, -1, 1)
        rows = (h - SPATIAL_BINS) // DESCRIPTOR_STEP + 1
        desc = cols.reshape(n, c * SPATIAL_BINS**2, rows, -1)
        norm = (desc.pow(2).sum(1, keepdim=True) + 1e-6).sqrt()
        return (desc / norm).clamp(max=CLAMP)

    def extra_repr(self) -> str:
        return f"cell_size={self.cell_size}, orientations={self.orientations}"


__all__ = ["DenseSIFT", "cell_weights"]
