"""Any image size for fixed-multiple networks: pad to fit, and cut big images into tiles.

Shared by every task (hiding, rescaling): the networks are fully
convolutional but need sides divisible by a multiple (one Haar level: 2; IRN
×s: s), and their activation memory grows with the image.

**Padding** (:func:`pad_to_multiple`) adds rows/columns at the bottom and
right, and the caller crops the result back. The mode is the caller's choice,
because the tasks need different things:

* ``"replicate"`` (rescaling): repeating the edge pixel leaks no dark border
  into a box-filtered LR image (a flat image stays flat).
* ``"reflect"`` (hiding): the padded row continues the image's texture.
  Hiding and revealing pad *independently* — the stego's padded row is
  recomputed from the cropped stego, not the row the hiding network produced —
  so the secret's last row/column on an odd side is revealed from a slightly
  wrong 2×2 wavelet block. Measured with a small trained HiNet (4 blocks) on
  four 255×255 crops: the interior reveals at 28.1 dB, exactly as for the even
  254×254 crop; rows 2–4 from the odd edge at 27.7 dB; the last row at
  25.3 dB and the last column at 23.1 dB. So an odd side costs about 3–5 dB
  on its outermost secret row or column, nothing elsewhere. An image too
  small to reflect (a 1-pixel side) is replicated instead.

**Tiles** (:func:`run_tiled`): large images are processed in square pieces
of ``tile`` input pixels, each with ``margin`` pixels of context on every
side that are computed and thrown away (cropping, no blending)::

    ┌──────────── extended tile (core + margin, clipped to the image) ─┐
    │   ┌──────── core: written to the output ──────┐                  │
    │   └───────────────────────────────────────────┘                  │
    └──────────────────────────────────────────────────────────────────┘

Tile origins, sizes and margins are multiples of the network's size
multiple, so the wavelet grid is the same as for the whole image and an
output at another ``scale`` (IRN's LR image, or its HR reconstruction) lines
up exactly. The result equals one-piece processing exactly when the margin
covers the network's receptive field, and closely when it covers the
*effective* receptive field, which for trained models is far smaller (the
measurements are beside each task's default margin:
:data:`invimg.hiding.api.TILE_MARGIN`,
:data:`invimg.rescaling.api.DEFAULT_MARGIN`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

#: What a tiled function does to one piece: the inputs' windows → the outputs' pieces.
TileFn = Callable[[list[Tensor]], list[Tensor]]
PadMode = Literal["reflect", "replicate"]


def pad_to_multiple(x: Tensor, multiple: int, mode: PadMode) -> Tensor:
    """Pad bottom and right so both sides are multiples of ``multiple`` (see module doc).

    ``"reflect"`` falls back to ``"replicate"`` when a side is too short to
    reflect the padding (a 1-pixel image, say).
    """
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return x
    if mode == "reflect" and min(h, w) <= max(ph, pw):
        mode = "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


@dataclass(frozen=True)
class Tile:
    """One tile of a grid: ``ext`` is processed, ``core`` (inside it) is kept."""

    core: tuple[slice, slice]
    ext: tuple[slice, slice]

    def core_in_ext(self) -> tuple[slice, slice]:
        """The core's position relative to the extended tile."""
        (cy, cx), (ey, ex) = self.core, self.ext
        return slice(cy.start - ey.start, cy.stop - ey.start), slice(
            cx.start - ex.start, cx.stop - ex.start
        )


def plan_tiles(height: int, width: int, tile: int, margin: int) -> Iterator[Tile]:
    """Cover a ``height × width`` grid with cores of at most ``tile`` pixels, row by row."""
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


def run_tiled(
    fn: TileFn,
    inputs: Sequence[Tensor],
    tile: int | None,
    margin: int,
    multiple: int = 1,
    scale: int | Fraction = 1,
) -> list[Tensor]:
    """Apply a fully convolutional ``fn`` piece by piece and stitch its outputs.

    ``inputs`` are ``N×C×H×W`` tensors of one size ``H×W``, multiples of
    ``multiple``; ``fn`` maps windows of all of them to any number of outputs
    ``scale ×`` the window's size (``Fraction(1, s)`` for a network that
    downscales by ``s``). ``tile`` and ``margin`` are in input pixels and
    multiples of ``multiple``; ``tile=None``, or an image no larger than a
    tile, runs in one piece. Outputs are allocated once, so only one extended
    tile's activations exist at a time.
    """
    ratio = Fraction(scale)
    h, w = _input_size(inputs, multiple, ratio)
    if tile is not None:
        _check_tiling(tile, margin, multiple)
    if tile is None or (h <= tile and w <= tile):
        return fn(list(inputs))
    outputs: list[Tensor] = []
    tiles = list(plan_tiles(h, w, tile, margin))
    # A progress bar on stderr for big images (hidden when stderr is not a terminal).
    for t in tqdm(tiles, desc="tiles", unit="tile", leave=False, disable=None):
        pieces = fn([x[(..., *t.ext)] for x in inputs])
        if not outputs:
            size = (_scaled(h, ratio), _scaled(w, ratio))
            outputs = [p.new_empty(*p.shape[:-2], *size) for p in pieces]
        core, in_piece = _region(t.core, ratio), _region(t.core_in_ext(), ratio)
        for out, piece in zip(outputs, pieces, strict=True):
            out[(..., *core)] = piece[(..., *in_piece)]
    return outputs


def _input_size(inputs: Sequence[Tensor], multiple: int, ratio: Fraction) -> tuple[int, int]:
    """The common ``H×W`` of ``inputs``, checked to fit the grid (a caller's bug if not)."""
    if not inputs:
        raise ValueError("run_tiled needs at least one input")
    h, w = inputs[0].shape[-2:]
    if any(tuple(x.shape[-2:]) != (h, w) for x in inputs):
        sizes = ", ".join(f"{x.shape[-2]}×{x.shape[-1]}" for x in inputs)
        raise ValueError(f"tiled inputs must share one size, got {sizes}")
    if multiple < 1 or h % multiple or w % multiple:
        raise ValueError(f"input {h}×{w} is not a multiple of {multiple}")
    if ratio <= 0 or (multiple * ratio).denominator != 1:
        raise ValueError(f"scale {ratio} does not map a multiple of {multiple} to whole pixels")
    return int(h), int(w)


def _check_tiling(tile: int, margin: int, multiple: int) -> None:
    """Tiles on the network's grid, so each piece sees the same wavelet blocks."""
    if tile < 1 or margin < 0:
        raise ValueError(f"tile must be >= 1 and margin >= 0, got {tile}, {margin}")
    if tile % multiple or margin % multiple:
        raise ValueError(f"tile and margin must be multiples of {multiple}, got {tile}, {margin}")


def _scaled(n: int, ratio: Fraction) -> int:
    value = n * ratio
    if value.denominator != 1:  # unreachable after _input_size / _check_tiling
        raise ValueError(f"{n} pixels at scale {ratio} is not a whole number")
    return int(value)


def _region(region: tuple[slice, slice], ratio: Fraction) -> tuple[slice, slice]:
    """A region of the input grid, in output pixels."""
    ys, xs = region
    return (
        slice(_scaled(ys.start, ratio), _scaled(ys.stop, ratio)),
        slice(_scaled(xs.start, ratio), _scaled(xs.stop, ratio)),
    )
