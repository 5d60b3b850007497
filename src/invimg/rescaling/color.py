"""IRN-Color: invertible decolorization–colorization (IRN's IJCV extension).

The same idea as rescaling, with colour in place of resolution::

    rgb (3, H, W) ─ learnable 3×3 colour matrix (init RGB→YUV) ─ 8 × InvBlockExp (split 1)
                  = [ grey: channel 0 | z: channels 1–2 ]

The grey channel is guided towards the standard luma (BT.601 full-range
``0.299 R + 0.587 G + 0.114 B``, what OpenCV's ``BGR2GRAY`` gives the
published training) and quantised to 8 bits; ``z`` (the chroma that the grey
image does not carry) is set to 0 when colourising, as the published model
does in training and testing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..inn import (
    RGB_TO_YUV,
    InvertibleConv1x1,
    InvertibleModule,
    InvertibleSequential,
    dense_block_factory,
    irn_coupling,
)
from ..inn.base import LogDet
from ..io.convert import LUMA_WEIGHTS, luma
from ..zoo import register_architecture

# The luma lives in invimg.io.convert, which also greys colour inputs to ``colorize``
# with it; it is re-exported here because it is IRN-Color's training target.
__all__ = ["LUMA_WEIGHTS", "IRNColor", "luma"]


@register_architecture("irn-color")
class IRNColor(InvertibleModule):
    """Invertible decolorization: ``forward(rgb) = cat(grey, z)``; ``inverse`` colourises.

    Shape: ``(N, 3, H, W) -> (N, 3, H, W)``; any size works (no downsampling).
    """

    @dataclass
    class Config:
        """Constructor arguments, saved in model cards (published: 8 blocks)."""

        blocks: int = 8
        growth: int = 32
        slope: float = 0.2
        learnable_color: bool = True
        memory_saving: bool = False

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config or IRNColor.Config()
        factory = dense_block_factory(growth=config.growth, slope=config.slope, init="xavier")
        color = InvertibleConv1x1(3, init=RGB_TO_YUV)
        if not config.learnable_color:
            color.requires_grad_(False)
        blocks = [irn_coupling(3, 1, factory) for _ in range(config.blocks)]
        self.net = InvertibleSequential(color, *blocks, memory_saving=config.memory_saving)

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        return self.net._transform(x, cond, reverse=reverse, need_log_det=need_log_det)

    scale = 1
    lr_channels = 1
    z_channels = 2

    def check_size(self, height: int, width: int) -> None:
        """Every size works: the colour model never changes resolution."""

    def encode(self, rgb: Tensor) -> tuple[Tensor, Tensor]:
        """Colour image → (grey image before quantisation, chroma latent ``z``)."""
        out = self.forward(rgb)
        return out[:, :1], out[:, 1:]

    def decode(self, grey: Tensor, z: Tensor | None = None) -> Tensor:
        """(grey, ``z``) → colour image; ``z=None`` means zeros (the published choice)."""
        if z is None:
            z = grey.new_zeros(grey.shape[0], 2, *grey.shape[-2:])
        return self.inverse(torch.cat((grey, z), 1))
