"""Contact sheets: the original and its reconstructions from several layers, side by side.

Like the papers' figures (one row per image, one column per layer), each
tile carries a caption (the layer and its relative error) drawn with
Pillow's built-in font, so a sheet needs no font files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CAPTION_HEIGHT = 14
GAP = 4


def contact_sheet(
    tiles: Sequence[np.ndarray], captions: Sequence[str], columns: int | None = None
) -> np.ndarray:
    """uint8 H×W×3 sheet of ``tiles`` (uint8 h×w×3, any sizes) in a grid, each captioned.

    ``columns`` defaults to all tiles on one row up to 6, then rows of 6.
    """
    if not tiles or len(tiles) != len(captions):
        raise ValueError("contact_sheet needs one caption per tile and at least one tile")
    cols = columns or min(len(tiles), 6)
    rows = -(-len(tiles) // cols)
    cell_h = max(t.shape[0] for t in tiles) + CAPTION_HEIGHT
    cell_w = max(t.shape[1] for t in tiles)
    sheet = Image.new(
        "RGB", (cols * cell_w + (cols + 1) * GAP, rows * cell_h + (rows + 1) * GAP), "white"
    )
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (tile, caption) in enumerate(zip(tiles, captions)):
        r, c = divmod(i, cols)
        x, y = GAP + c * (cell_w + GAP), GAP + r * (cell_h + GAP)
        draw.text((x + 2, y + 1), _fit(draw, caption, font, cell_w - 4), fill="black", font=font)
        sheet.paste(Image.fromarray(np.ascontiguousarray(tile)), (x, y + CAPTION_HEIGHT))
    return np.asarray(sheet)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: object, width: int) -> str:
    """``text`` shortened with an ellipsis until it fits ``width`` pixels."""
    while len(text) > 1 and draw.textlength(text, font=font) > width:  # type: ignore[arg-type]
        text = text[:-2] + "…"
    return text
