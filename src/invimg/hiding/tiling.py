"""Any image size for fixed-multiple networks: pad to fit, and cut big images into tiles.

Padding: the networks need sides divisible by 2 (one Haar level). An odd
side is padded by one row/column, reflecting the image (the pixel row next
to the edge is repeated), and the result is cropped back. What that costs:
hiding and revealing pad *independently* — the stego's padded row is
recomputed from the cropped stego by reflection, not the row the hiding
network produced — so the secret's last row/column on an odd side is
revealed from a slightly wrong 2×2 wavelet block. Measured with a small
trained HiNet (4 blocks) on four 255×255 crops: the interior of the secret
reveals at 28.1 dB, exactly as for the even 254×254 crop; the rows 2–4 from
the odd edge at 27.7 dB; the last row at 25.3 dB and the last column at
23.1 dB. The stego itself is not affected. So an odd side costs about 3–5 dB
on its outermost secret row or column, nothing elsewhere.

Tiles: activation memory grows with the image, so large images are processed
in square pieces of ``tile`` pixels, each with ``margin`` pixels of context
on every side that are computed and thrown away. Tile origins are multiples
of the network's size multiple, so the wavelet grid is the same as for the
whole image; the only difference from one-piece processing is the context
beyond the margin, which the convolutions barely see: with the 32-pixel
margin, a 384² image in 128² tiles gave the very same 8-bit stego and
revealed secret as one piece (small trained HiNet). Peak memory of one piece
is in ``benchmarks/speed_hiding.py`` (HiNet: 0.56 GB at 1024², 2.0 GB at
2048², 0.78 GB at 2048² in 1024² tiles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor

TileFn = Callable[[list[Tensor]], list[Tensor]]


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad bottom and right (reflecting; replicating for 1-pixel sides) to a multiple."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not ph and not pw:
        return x
    mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def run_tiled(
    fn: TileFn, images: Sequence[Tensor], tile: int | None, margin: int, multiple: int
) -> list[Tensor]:
    """Apply ``fn`` (same-size images → same-size images) piecewise and stitch.

    ``images`` are ``N×C×H×W`` with ``H``, ``W`` multiples of ``multiple``;
    ``tile=None`` or an image no larger than a tile runs in one piece.
    """
    h, w = images[0].shape[-2:]
    if tile is None or (h <= tile and w <= tile):
        return fn(list(images))
    if tile % multiple or margin % multiple:
        raise ValueError(f"tile and margin must be multiples of {multiple}")
    outputs: list[Tensor] = []
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ty, tx = max(0, y0 - margin), max(0, x0 - margin)
            window = (slice(ty, min(h, y1 + margin)), slice(tx, min(w, x1 + margin)))
            pieces = fn([im[..., window[0], window[1]] for im in images])
            if not outputs:
                outputs = [p.new_empty(*p.shape[:-2], h, w) for p in pieces]
            for out, piece in zip(outputs, pieces):
                out[..., y0:y1, x0:x1] = piece[..., y0 - ty : y1 - ty, x0 - tx : x1 - tx]
    return outputs
