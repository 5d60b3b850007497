"""Tiled processing with bounded memory, for photos of any size.

A 2048×1536 photo through IRN ×4 in one piece needs about 1 GB of
activations (the dense blocks hold 137 feature maps at a quarter of the pixel
count); tiles keep that bounded whatever the photo size.

Everything is laid out on the **LR grid** (HR pixels are ``scale × scale``
blocks of it), so every tile is a multiple of the scale and Haar steps stay
aligned. Each tile is processed with a ``margin`` of context on every side
and only its core is kept (cropping, no blending)::

    ┌──────────── extended tile (core + margin, clipped to the image) ─┐
    │   ┌──────── core: written to the output ──────┐                  │
    │   └───────────────────────────────────────────┘                  │
    └──────────────────────────────────────────────────────────────────┘

The result equals whole-image processing exactly when the margin covers the
network's receptive field (:func:`receptive_radius`: 40 + 80 = 120 LR pixels
for IRN ×4, which a test checks), and closely when it covers the *effective*
receptive field, which for trained models is far smaller (see
:data:`DEFAULT_MARGIN`). A latent ``z`` is drawn once for the whole image and
sliced, so Gaussian upscaling does not depend on the tiling either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..inn import HaarWavelet, LearnableDownsampling
from ..inn.couplings import AffineCoupling

#: LR pixels per tile side (core). 128 LR px = 512 HR px at ×4: IRN ×4 then peaks at
#: about 250 MB whatever the photo size (measured at 1024×768: 250 MB tiled, 450–500 MB
#: in one piece; one piece at 2048×1536 would need about 2 GB).
DEFAULT_TILE = 128
#: LR pixels of context per side (128 HR px at ×4). Measured on a briefly trained ×2
#: model whose receptive radius is 20 LR px: margin 0 changes 27 % of the LR pixels
#: (by up to 3 levels), margin 4 changes 1.7 %, margin 8 only 0.002 % (by 1 level, a
#: rounding tie), so the effective receptive field is far below the theoretical one;
#: 32 leaves a 4× safety factor. ``benchmarks/speed_rescaling.py --deviation N``
#: measures it for any model.
DEFAULT_MARGIN = 32


@dataclass(frozen=True)
class Tile:
    """One tile on the LR grid: ``ext`` is processed, ``core`` (inside it) is kept."""

    core: tuple[slice, slice]
    ext: tuple[slice, slice]

    def core_in_ext(self) -> tuple[slice, slice]:
        """The core's position relative to the extended tile."""
        (cy, cx), (ey, ex) = self.core, self.ext
        return slice(cy.start - ey.start, cy.stop - ey.start), slice(
            cx.start - ex.start, cx.stop - ex.start
        )


def plan_tiles(height: int, width: int, tile: int, margin: int) -> Iterator[Tile]:
    """Cover an ``height × width`` LR grid with cores of at most ``tile`` pixels."""
    if tile < 1 or margin < 0:
        raise ValueError(f"tile must be >= 1 and margin >= 0, got {tile}, {margin}")
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            core = (slice(y0, y1), slice(x0, x1))
            ext = (
                slice(max(0, y0 - margin), min(height, y1 + margin)),
                slice(max(0, x0 - margin), min(width, x1 + margin)),
            )
            yield Tile(core, ext)


def _scaled(region: tuple[slice, slice], s: int) -> tuple[slice, slice]:
    return tuple(slice(r.start * s, r.stop * s) for r in region)  # type: ignore[return-value]


def run_tiled(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    in_scale: int,
    out_scale: int,
    out_channels: int,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
) -> Tensor:
    """Apply a fully convolutional ``fn`` tile by tile on the LR grid.

    ``x`` has ``in_scale`` pixels per LR pixel, ``fn``'s output has
    ``out_scale`` (downscaling: 4 → 1; upscaling: 1 → 4). The output is
    allocated once; only one extended tile's activations exist at a time.
    """
    n, _, h, w = x.shape
    if h % in_scale or w % in_scale:
        raise ValueError(f"input {h}×{w} is not a multiple of {in_scale}")
    grid_h, grid_w = h // in_scale, w // in_scale
    out = x.new_empty(n, out_channels, grid_h * out_scale, grid_w * out_scale)
    for t in plan_tiles(grid_h, grid_w, tile, margin):
        piece = fn(x[(..., *_scaled(t.ext, in_scale))])
        out[(..., *_scaled(t.core, out_scale))] = piece[(..., *_scaled(t.core_in_ext(), out_scale))]
    return out


def receptive_radius(model: nn.Module) -> int:
    """Radius (in LR pixels) beyond which an input pixel cannot change an output pixel.

    Each coupling evaluates two sub-networks in series (φ, then ρ/η on its
    output); each 3×3 convolution adds one pixel at the resolution where it
    runs. Haar / learnable downsampling steps act inside aligned blocks and
    add nothing on the LR grid. Summed over the blocks, in LR pixels, plus a
    model's ``lr_receptive_radius`` (layers acting on the LR image, e.g. a CRM).
    """
    scale = int(getattr(model, "scale", 1))
    factor = scale  # HR pixels per pixel of the current stage
    radius = 0.0
    for module in model.modules():
        if isinstance(module, HaarWavelet):
            factor //= 2
        elif isinstance(module, LearnableDownsampling):
            factor //= module.factor
        elif isinstance(module, AffineCoupling):
            depth = sum(_conv_radius(net) for net in (module.phi, module.rho))
            radius += depth / max(factor, 1)
    return math.ceil(radius) + int(getattr(model, "lr_receptive_radius", 0))


def _conv_radius(net: nn.Module) -> int:
    """Receptive radius of a sub-network whose convolutions run in sequence."""
    total = 0
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            k, d = m.kernel_size[0], m.dilation[0]
            total += (k - 1) // 2 * d
    return total


def gaussian_latent(shape: tuple[int, ...], seed: int, device: torch.device) -> Tensor:
    """A reproducible N(0, I) sample drawn on the CPU (identical on every device)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen).to(device)
