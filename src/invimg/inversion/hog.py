"""HOG as a differentiable network: UoCTTI HOG (hard binning) and HOGb (soft binning).

Mahendran & Vedaldi (CVPR 2015, §3.2; their ``hog_net.m``) write the HOG of
VLFeat's ``vl_hog`` (the UoCTTI variant of Felzenszwalb et al.'s DPM) as a
small CNN so that it can be inverted by gradient descent::

    grey ×255 ─ 2·O directional derivatives (3×3, central differences)
             ─ orientation binning: |∇I| into the nearest of 2·O directions (HOG)
                                    or bilinearly into the two nearest (HOGb)
             ─ bilinear spatial pooling into cells (2b×2b triangle, stride b)
             ─ 2·O signed + O unsigned bins per cell; blocks of 2×2 cells
               normalised by the L2 norm of their unsigned bins
             ─ clamp at 0.2, sum over the 4 blocks holding a cell, × ½
    → (N, 3·O, ⌊(H − b)/b⌋ + 1, ⌊(W − b)/b⌋ + 1)          O = 9: 27 values a cell

The 27 channels are UoCTTI's first 27 dimensions (18 contrast-sensitive, 9
insensitive); its 4 texture energies are not used, as in the papers (their
error measure, ``experiment_shallow_quantitative.m``, keeps dims 1–27).

One deliberate difference: the image border is replicated before the
derivatives (the authors' network zero-pads the mean-subtracted image), so the
descriptor does not depend on where the zero of the intensity scale lies: HOG
here is exactly invariant to a brightness offset, and to a contrast gain up to
the 10⁻⁶ guard of the block norm.

Hard binning is piecewise constant in the orientation, so its gradient flows
only through the gradient magnitude (as in the authors' backward pass); HOGb's
bilinear weights give the optimiser a gradient through the orientation too.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .representation import Representation

Binning = Literal["hard", "soft"]
#: Block norms below this are treated as this (the authors' guard; in 0–255 units).
NORM_FLOOR = 1e-6
#: UoCTTI's truncation of normalised histogram values.
CLAMP = 0.2


def image_gradient(grey: Tensor, pad: bool) -> tuple[Tensor, Tensor]:
    """Central differences ``(I(x+1) − I(x−1))/2`` along x and y (y grows downwards).

    ``pad``: replicate the border so the result has the image's size (HOG);
    otherwise it is 2 pixels smaller each way (SIFT, as the authors' network).
    """
    x = F.pad(grey, (1, 1, 1, 1), mode="replicate") if pad else grey
    gx = 0.5 * (x[..., 1:-1, 2:] - x[..., 1:-1, :-2])
    gy = 0.5 * (x[..., 2:, 1:-1] - x[..., :-2, 1:-1])
    return gx, gy


def orientation_votes(
    gx: Tensor, gy: Tensor, orientations: int, binning: Binning
) -> list[tuple[Tensor, Tensor]]:
    """Each pixel's votes as ``(bin index, weight·|∇I|)`` pairs, bins θ_k = kπ/O, k < 2·O.

    ``hard``: all of ``|∇I|`` into the nearest direction (the largest of the
    authors' 2·O directional derivatives); ``soft``: ``|∇I|·max(0, 1 − Δθ·O/π)``
    into the two directions at angle Δθ from the gradient (the authors'
    ``1 − (2O/2π)·acos(cos Δθ)``, which is zero for every other direction).
    """
    bins = 2 * orientations
    magnitude = (gx.pow(2) + gy.pow(2)).clamp_min(1e-20).sqrt()
    flat = magnitude <= 1e-10  # atan2's gradient is 0/0 there; its vote is 0 anyway
    angle = torch.atan2(torch.where(flat, 0.0, gy), torch.where(flat, 1.0, gx))
    position = torch.remainder(angle * (orientations / math.pi), bins)  # in [0, 2·O)
    if binning == "hard":
        return [(torch.round(position).long().remainder(bins), magnitude)]
    lower = torch.floor(position.detach())
    frac = position - lower
    lower_bin = lower.long().remainder(bins)
    return [
        (lower_bin, magnitude * (1 - frac)),
        ((lower_bin + 1).remainder(bins), magnitude * frac),
    ]


def triangle(cell_size: int) -> Tensor:
    """The 1-D bilinear weights ``1 − |t|/b`` over the 2b pixels that vote into a cell."""
    positions = torch.arange(1, 2 * cell_size + 1, dtype=torch.float64)
    return (1 - ((positions - (2 * cell_size + 1) / 2) / cell_size).abs()).float()


def _axis_cells(
    length: int, weights: Tensor, cell_size: int, padding: int
) -> tuple[Tensor, Tensor, int]:
    """Along one axis: the two cells each pixel votes into, their weights, the cell count.

    The 2b-tap window of cell j (stride b, after ``padding``) covers padded
    pixels ``[jb, jb + 2b)``: a pixel at padded position ``q = Bb + o`` votes
    into cell B with ``w[o]`` and into cell B − 1 with ``w[b + o]``.
    """
    b = cell_size
    cells = (length + 2 * padding - 2 * b) // b + 1
    q = torch.arange(length, device=weights.device) + padding
    block, offset = q // b, q % b
    index = torch.stack((block, block - 1))
    weight = torch.stack((weights[offset], weights[b + offset]))
    valid = (index >= 0) & (index < cells)
    return torch.where(valid, index, 0), torch.where(valid, weight, 0.0), cells


def cell_layout(
    height: int, width: int, weights: Tensor, cell_size: int, padding: int
) -> tuple[Tensor, Tensor, int, int]:
    """For each pixel, its 2×2 cells (flat indices) and bilinear weights: ``(4, H, W)`` each."""
    iy, wy, rows = _axis_cells(height, weights, cell_size, padding)
    ix, wx, cols = _axis_cells(width, weights, cell_size, padding)
    cell = (iy[:, None, :, None] * cols + ix[None, :, None, :]).reshape(4, height, width)
    spatial = (wy[:, None, :, None] * wx[None, :, None, :]).reshape(4, height, width)
    return cell, spatial, rows, cols


def cell_histograms(
    votes: list[tuple[Tensor, Tensor]],
    layout: tuple[Tensor, Tensor, int, int],
    bins: int,
) -> Tensor:
    """Bilinear spatial binning: ``(N, bins, h, w)`` cell histograms of the votes.

    The authors' per-channel 2b×2b triangle convolution at stride b (``pad`` =
    b/2 for HOG, 0 for SIFT), computed as a scatter of each pixel's votes
    into its 2×2 cells (``layout`` from :func:`cell_layout`): no
    full-resolution map per orientation is ever made, which makes HOG
    several times faster on a CPU for the same numbers.
    """
    cell, spatial, rows, cols = layout
    n = votes[0][0].shape[0]
    out = votes[0][1].new_zeros(n, bins * rows * cols)
    for bin_index, value in votes:
        index = bin_index * (rows * cols) + cell  # (N, 4, H, W)
        out = out.scatter_add(1, index.reshape(n, -1), (value * spatial).reshape(n, -1))
    return out.view(n, bins, rows, cols)


class LayoutCache:
    """The last :func:`cell_layout` computed, reused while the image size stays the same."""

    def __init__(self) -> None:
        self.key: tuple[object, ...] | None = None
        self.value: tuple[Tensor, Tensor, int, int] | None = None

    def get(
        self, height: int, width: int, weights: Tensor, cell_size: int, padding: int
    ) -> tuple[Tensor, Tensor, int, int]:
        key = (height, width, weights.device, weights.dtype, cell_size, padding)
        if self.key != key or self.value is None:
            self.key, self.value = key, cell_layout(height, width, weights, cell_size, padding)
        return self.value


def uoctti_normalise(cells: Tensor, orientations: int) -> Tensor:
    """UoCTTI block normalisation of ``(N, 2·O, h, w)`` cell histograms → ``(N, 3·O, h, w)``.

    Each cell's 2·O signed and O unsigned bins are divided by the norm of each
    of the (up to) four 2×2-cell blocks that contain it, clamped at 0.2,
    summed and halved; blocks that would stick out of the image count as zero.
    """
    unsigned = cells[:, :orientations] + cells[:, orientations:]
    per_cell = torch.cat((cells, unsigned), 1)
    energy = unsigned.pow(2).sum(1, keepdim=True)
    block_norm = (4 * F.avg_pool2d(energy, 2, stride=1)).clamp_min(NORM_FLOOR**2).sqrt()
    # A missing block divides by +inf: its share is 0 and so is its gradient.
    padded = F.pad(block_norm, (1, 1, 1, 1), value=math.inf)
    h, w = cells.shape[-2:]
    total = torch.zeros_like(per_cell)
    for dy in (0, 1):
        for dx in (0, 1):
            norm = padded[..., dy : dy + h, dx : dx + w]
            total = total + (per_cell / norm).clamp(max=CLAMP)
    return 0.5 * total


class HOG(Representation):
    """UoCTTI HOG of a grey image (``binning="hard"``) or its soft-binned HOGb.

    Shape: ``(N, 1, H, W)`` in [0, 1] → ``(N, 3·O, ⌊(H−b)/b⌋+1, ⌊(W−b)/b⌋+1)``
    (H, W ≥ b). Example: a 256×256 image, b = 8 → ``(N, 27, 32, 32)``.
    """

    in_channels = 1
    contrast_invariant = True
    triangle: Tensor

    def __init__(self, cell_size: int = 8, orientations: int = 9, binning: Binning = "hard"):
        super().__init__()
        if cell_size < 2:
            raise ValueError(f"cell_size must be >= 2, got {cell_size}")
        if orientations < 2:
            raise ValueError(f"orientations must be >= 2, got {orientations}")
        if binning not in ("hard", "soft"):
            raise ValueError(f"binning must be 'hard' or 'soft', got {binning!r}")
        self.cell_size, self.orientations, self.binning = cell_size, orientations, binning
        self.stride = cell_size
        self.label = "HOG" if binning == "hard" else "HOGb"
        self.register_buffer("triangle", triangle(cell_size))
        self._layout = LayoutCache()

    def min_size(self) -> int:
        """The smallest side that gives two cells: UoCTTI normalises over 2×2 blocks of cells.

        Cells are ``cell_size`` apart with half a cell of padding each side, so
        two fit in ``3·cell_size − 2·(cell_size // 2)`` pixels (16 for cells of 8).
        """
        return 3 * self.cell_size - 2 * (self.cell_size // 2)

    def forward(self, grey: Tensor) -> Tensor:
        if grey.shape[1] != 1 or min(grey.shape[-2:]) < self.min_size():
            raise ValueError(
                f"HOG needs (N, 1, H, W) with H, W >= {self.min_size()}, got {tuple(grey.shape)}"
            )
        gx, gy = image_gradient(grey * 255, pad=True)
        votes = orientation_votes(gx, gy, self.orientations, self.binning)
        layout = self._layout.get(
            gx.shape[-2], gx.shape[-1], self.triangle, self.cell_size, self.cell_size // 2
        )
        cells = cell_histograms(votes, layout, 2 * self.orientations)
        return uoctti_normalise(cells, self.orientations)

    def extra_repr(self) -> str:
        return f"cell_size={self.cell_size}, orientations={self.orientations}, {self.binning}"
