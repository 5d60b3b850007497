"""Rescaling with compression (IRN's IJCV extension, ``irn-x2-jpeg90``).

The LR image is stored as a JPEG, which destroys exactly the fine structure
IRN hides the HR details in. A compression recovery module (CRM) restores the
LR image before the inverse pass::

    hr ─ IRN ─ lr (8-bit) ─ JPEG (user's file) ─ CRM ─ quantise ─ IRN⁻¹(·, z) ─ hr'

As published (``IRN_model_CRM.py``, ``only_jpeg_reconstruction``), the IRN is
a trained model kept frozen and the CRM is trained alone to map
``JPEG(lr)`` back to ``lr`` (l2, summed per image), with the real codec at
quality 90. The published CRM is an RRDB network (64 features, 8 RRDBs); ours
is the same kind of network in a lighter default (residual dense blocks of
:class:`invimg.inn.DenseBlock`, zero-initialised output so it starts as the
identity), sized by its config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..inn import DenseBlock, InvertibleModule
from ..inn.base import LogDet
from ..io import quantize_st
from ..zoo import register_architecture
from .irn import IRN


class CompressionRecovery(nn.Module):
    """Residual dense network: ``restored = jpeg + net(jpeg)``, identity at initialisation."""

    def __init__(self, channels: int = 3, features: int = 64, blocks: int = 4, growth: int = 32):
        super().__init__()
        self.head = nn.Conv2d(channels, features, 3, padding=1)
        self.body = nn.ModuleList(
            DenseBlock(features, features, growth=growth, slope=0.2) for _ in range(blocks)
        )
        self.tail = nn.Conv2d(features, channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        if self.tail.bias is not None:
            nn.init.zeros_(self.tail.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        for block in self.body:
            # DenseBlock's last conv starts at zero, so each block starts as the identity.
            h = h + 0.2 * block(h)
        return x + self.tail(h)


@register_architecture("irn-jpeg")
class IRNJPEG(InvertibleModule):
    """IRN plus a CRM applied to the LR image before upscaling.

    ``forward`` is IRN's; ``forward(y, rev=True)`` restores ``y``'s LR part
    with the CRM and quantises it before IRN's inverse, so tiled upscaling
    in :mod:`invimg.rescaling.api` works unchanged. Not an exact bijection
    any more (the CRM is not invertible): ``inverse`` is the upscaling map.
    """

    @dataclass
    class Config:
        """IRN's fields plus the CRM's size and the JPEG quality it was trained for."""

        scale: int = 2
        blocks: int = 8
        growth: int = 32
        slope: float = 0.2
        crm_features: int = 64
        crm_blocks: int = 4
        quality: int = 90

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config or IRNJPEG.Config()
        self.irn = IRN(
            IRN.Config(
                scale=config.scale, blocks=config.blocks, growth=config.growth, slope=config.slope
            )
        )
        self.crm = CompressionRecovery(features=config.crm_features, blocks=config.crm_blocks)

    @property
    def scale(self) -> int:
        return self.irn.scale

    @property
    def lr_channels(self) -> int:
        return self.irn.lr_channels

    @property
    def z_channels(self) -> int:
        return self.irn.z_channels

    @property
    def jpeg_quality(self) -> int:
        """The JPEG quality the CRM was trained for (the CLI writes LR JPEGs with it)."""
        return self.config.quality

    @property
    def lr_receptive_radius(self) -> int:
        """Extra tile margin (LR pixels) for the CRM: head, 5 convs per block, tail."""
        return 2 + 5 * self.config.crm_blocks

    def forward(
        self, x: Tensor, cond: Tensor | None = None, rev: bool = False, restore: bool = False
    ) -> Tensor:
        """IRN's forward; ``rev``: upscaling; ``restore``: the CRM alone on an LR image.

        One entry point for all three, so a DDP-wrapped model trains the CRM
        through DDP's forward (which is what synchronises its gradients).
        """
        if restore:
            return self.crm(x)
        return self._transform(x, cond, reverse=rev, need_log_det=False)[0]

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        if reverse:
            c = self.lr_channels
            x = torch.cat((quantize_st(self.crm(x[:, :c])), x[:, c:]), 1)
        return self.irn._transform(x, cond, reverse=reverse, need_log_det=need_log_det)

    def check_size(self, height: int, width: int) -> None:
        self.irn.check_size(height, width)

    def encode(self, hr: Tensor) -> tuple[Tensor, Tensor]:
        return self.irn.encode(hr)

    def decode(self, lr: Tensor, z: Tensor | None = None) -> Tensor:
        """Upscale a (possibly JPEG-compressed) LR image: CRM, quantise, IRN⁻¹."""
        return self.irn.decode(quantize_st(self.crm(lr)), z)
