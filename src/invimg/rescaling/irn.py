"""IRN: Invertible Image Rescaling (Xiao et al., ECCV 2020), as a composition of INN blocks.

The network is a bijection between a high-resolution image ``x`` and the pair
(low-resolution image ``y``, lost high frequencies ``z``)::

    x (3, H, W)
      └─ Haar ("mean": first band = 2×2 mean) ─ 8 × InvBlockExp ─┐   per ×2 stage
                                                                  ⋮   (×4: two stages)
    out (3·s², H/s, W/s) = [ y: first 3 channels | z: the other 3·(s²−1) ]

Training pushes ``z`` towards N(0, I) so it can be dropped: upscaling feeds the
(8-bit) ``y`` with ``z = 0`` or a fresh Gaussian sample through the inverse.
``InvBlockExp`` is :func:`invimg.inn.irn_coupling` (clamp 1, split 3) with the
published dense-block sub-networks (growth 32, LeakyReLU 0.2, scaled Xavier).

For scales that are not powers of two (×3) the Haar steps are replaced by one
:class:`invimg.inn.LearnableDownsampling` by ``s`` (squeeze + invertible 1×1
convolution initialised to patch means), followed by ``blocks`` couplings, as
the published ×3 model does with its ``ConvDownsampling`` (12 blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..inn import (
    HaarWavelet,
    InvertibleModule,
    InvertibleSequential,
    LearnableDownsampling,
    dense_block_factory,
    irn_coupling,
)
from ..inn.base import LogDet
from ..inn.couplings import AffineCoupling
from ..zoo import register_architecture

Downsampling = Literal["haar", "learnable"]


def is_power_of_two(n: int) -> bool:
    return n >= 2 and n & (n - 1) == 0


@register_architecture("irn")
class IRN(InvertibleModule):
    """Invertible rescaling network: ``forward(hr) = cat(lr, z)``, ``inverse`` rebuilds ``hr``.

    Shape: ``(N, C, H, W) -> (N, C·s², H/s, W/s)``; ``H`` and ``W`` must be
    multiples of ``scale`` (:mod:`invimg.rescaling.api` pads any size).
    """

    @dataclass
    class Config:
        """Constructor arguments, saved in model cards.

        ``blocks`` counts couplings per Haar stage (published: 8), or in total
        after a learnable downsampling (published ×3: 12).
        """

        scale: int = 4
        blocks: int = 8
        channels: int = 3
        growth: int = 32
        slope: float = 0.2
        downsampling: Downsampling = "haar"
        memory_saving: bool = False

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config or IRN.Config()
        check_config(config)
        factory = dense_block_factory(growth=config.growth, slope=config.slope, init="xavier")
        c = config.channels
        ops: list[InvertibleModule] = []
        if config.downsampling == "haar":
            for _ in range(int(math.log2(config.scale))):
                ops.append(HaarWavelet("mean"))
                c *= 4
                ops += [irn_coupling(c, config.channels, factory) for _ in range(config.blocks)]
        else:
            ops.append(LearnableDownsampling(c, config.scale))
            c *= config.scale**2
            ops += [irn_coupling(c, config.channels, factory) for _ in range(config.blocks)]
        self.net = InvertibleSequential(*ops, memory_saving=config.memory_saving)

    # -- the invertible contract -------------------------------------------------

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        if not reverse:
            self.check_size(x.shape[-2], x.shape[-1])
        return self.net._transform(x, cond, reverse=reverse, need_log_det=need_log_det)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.net.output_shape(input_shape)

    # -- task vocabulary ---------------------------------------------------------

    @property
    def scale(self) -> int:
        """Linear downscaling factor."""
        return self.config.scale

    @property
    def lr_channels(self) -> int:
        """Channels of the visible output (the LR image)."""
        return self.config.channels

    @property
    def z_channels(self) -> int:
        """Channels of the latent ``z`` at LR resolution."""
        return self.config.channels * (self.config.scale**2 - 1)

    def check_size(self, height: int, width: int) -> None:
        """Raise ``ValueError`` unless the HR size is a multiple of the scale."""
        s = self.config.scale
        if height % s or width % s:
            raise ValueError(
                f"IRN ×{s} needs height and width divisible by {s}, got {height}×{width}; "
                "invimg.rescaling.api pads any size"
            )

    def encode(self, hr: Tensor) -> tuple[Tensor, Tensor]:
        """HR image → (LR image before quantisation, latent ``z``)."""
        out = self.forward(hr)
        return out[:, : self.lr_channels], out[:, self.lr_channels :]

    def decode(self, lr: Tensor, z: Tensor | None = None) -> Tensor:
        """(LR, ``z``) → HR image; ``z=None`` means zeros (the mode of N(0, I))."""
        if z is None:
            z = lr.new_zeros(lr.shape[0], self.z_channels, *lr.shape[-2:])
        return self.inverse(torch.cat((lr, z), 1))


def check_config(config: IRN.Config) -> None:
    """Raise ``ValueError`` for an impossible architecture, before any weight exists."""
    if config.downsampling == "haar" and not is_power_of_two(config.scale):
        raise ValueError(
            f"Haar downsampling needs a power-of-two scale, got {config.scale}; "
            "use downsampling='learnable' (IRN ×3)"
        )
    if config.downsampling not in ("haar", "learnable"):
        raise ValueError(f"downsampling must be 'haar' or 'learnable', got {config.downsampling!r}")
    if config.scale < 2 or config.blocks < 1 or config.channels < 1:
        raise ValueError("IRN needs scale >= 2, blocks >= 1 and channels >= 1")


# -- tiling margin ---------------------------------------------------------------


def receptive_radius(model: nn.Module) -> int:
    """Radius (in LR pixels) beyond which an input pixel cannot change an output pixel.

    Why: a tile margin this wide makes tiled rescaling equal whole-image
    processing exactly (:func:`invimg.tiling.run_tiled`; 40 + 80 = 120 LR px
    for IRN ×4). Each coupling evaluates two sub-networks in series (φ, then
    ρ/η on its output); each 3×3 convolution adds one pixel at the resolution
    where it runs. Haar / learnable downsampling steps act inside aligned
    blocks and add nothing on the LR grid. Summed over the blocks, in LR
    pixels, plus a model's ``lr_receptive_radius`` (layers acting on the LR
    image, e.g. a CRM).
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
