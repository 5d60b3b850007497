"""IRN-Color: invertible decolorization–colorization (IRN's IJCV extension).

The same idea as rescaling, with colour in place of resolution::

    rgb (3, H, W) ─ learnable 3×3 colour matrix (init RGB→YUV) ─ 8 × InvBlockExp (split 1)
                  = [ grey: channel 0 | z: channels 1–2 ]

The grey channel is guided towards the standard luma (BT.601 full-range
``0.299 R + 0.587 G + 0.114 B``, what OpenCV's ``BGR2GRAY`` gives the
published training) and quantised to 8 bits; ``z`` (the chroma that the grey
image does not carry) is set to 0 when colourising, as the published model
does in training and testing.

``haar=True`` (invimg's variant, not in the paper) runs the couplings on the
Haar bands of each channel instead::

    rgb ─ squeeze 2×2 ─ 12×12 map (init: RGB→YUV ⊗ Haar) ─ 8 × InvBlockExp (split 4)
        ─ inverse Haar per channel ─ unsqueeze = [ grey | z ]

Why: the published couplings are translation-equivariant, so a flat patch of
any colour can only shift the grey by a constant, which reads as luma; the
chroma has to ride on the photo's own edges, and the published model needs
500,000 GPU steps to learn that. In the Haar domain the grey's four bands are
separate channels, so a coupling can write chroma into the grey's fine
detail (a 2×2 pattern) anywhere, as HiNet hides a secret in a cover's bands.
Sizes must then be even.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..inn import (
    RGB_TO_YUV,
    Inverse,
    InvertibleConv1x1,
    InvertibleModule,
    InvertibleSequential,
    Squeeze,
    SubnetFactory,
    dense_block_factory,
    irn_coupling,
)
from ..inn.base import LogDet
from ..inn.haar import haar_matrix
from ..io.convert import LUMA_WEIGHTS, luma
from ..zoo import register_architecture

# The luma lives in invimg.io.convert, which also greys colour inputs to ``colorize``
# with it; it is re-exported here because it is IRN-Color's training target.
__all__ = ["LUMA_WEIGHTS", "IRNColor", "luma"]


@register_architecture("irn-color")
class IRNColor(InvertibleModule):
    """Invertible decolorization: ``forward(rgb) = cat(grey, z)``; ``inverse`` colourises.

    Shape: ``(N, 3, H, W) -> (N, 3, H, W)``; any size works (the Haar variant: even sides;
    the task API pads for the user).
    """

    @dataclass
    class Config:
        """Constructor arguments, saved in model cards (published: 8 blocks)."""

        blocks: int = 8
        growth: int = 32
        slope: float = 0.2
        learnable_color: bool = True
        memory_saving: bool = False
        #: couple the channels' Haar bands (invimg's variant, see the module docstring)
        haar: bool = False

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config or IRNColor.Config()
        factory = dense_block_factory(growth=config.growth, slope=config.slope, init="xavier")
        if config.haar:
            self.net = _haar_net(config, factory)
            self.size_multiple = 2
            return
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
    #: what height and width must be divisible by (2 for the Haar variant)
    size_multiple = 1

    def check_size(self, height: int, width: int) -> None:
        """Any size works for the published model; the Haar variant needs even sizes."""
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(
                f"this IRN-Color model needs sizes divisible by {self.size_multiple}, "
                f"got {height}×{width}"
            )

    def encode(self, rgb: Tensor) -> tuple[Tensor, Tensor]:
        """Colour image → (grey image before quantisation, chroma latent ``z``)."""
        out = self.forward(rgb)
        return out[:, :1], out[:, 1:]

    def decode(self, grey: Tensor, z: Tensor | None = None) -> Tensor:
        """(grey, ``z``) → colour image; ``z=None`` means zeros (the published choice)."""
        if z is None:
            z = grey.new_zeros(grey.shape[0], 2, *grey.shape[-2:])
        return self.inverse(torch.cat((grey, z), 1))


def _haar_net(config: IRNColor.Config, factory: SubnetFactory) -> InvertibleSequential:
    """Squeeze, colour ⊗ Haar map, couplings on 4 grey + 8 chroma bands, back to pixels."""
    haar = haar_matrix("orthonormal").float()
    # pixel_unshuffle stacks each channel's 2×2 patch as (a, c, b, d) in Haar's (a, b, c, d)
    # naming (row-major), so reorder Haar's columns to act on that order.
    patch_to_bands = haar[:, [0, 2, 1, 3]]
    analysis = InvertibleConv1x1(12, init=torch.kron(RGB_TO_YUV.float(), patch_to_bands))
    if not config.learnable_color:
        analysis.requires_grad_(False)
    synthesis = InvertibleConv1x1(12, init=torch.kron(torch.eye(3), patch_to_bands.T.contiguous()))
    synthesis.requires_grad_(False)
    blocks = [irn_coupling(12, 4, factory) for _ in range(config.blocks)]
    return InvertibleSequential(
        Squeeze(2),
        analysis,
        *blocks,
        synthesis,
        Inverse(Squeeze(2)),
        memory_saving=config.memory_saving,
    )
