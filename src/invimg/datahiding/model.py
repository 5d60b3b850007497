"""The conditional INN of Steg-cINN: Gaussian latent ↔ colour, given lightness.

Built only from :mod:`invimg.inn` blocks (Haar steps, LU 1×1 convolutions,
conditional affine couplings with small conv sub-networks)::

    ab / ab_scale (2, H, W)
      ─ Haar ─ (8, H/2, W/2)  ─ blocks1 × [1×1 conv, coupling | cond1] ─
      ─ Haar ─ (32, H/4, W/4) ─ blocks2 × [1×1 conv, coupling | cond2] ─  = z

    L ─ ConditionNet ─ cond1 (cond_channels, H/2, W/2), cond2 (cond_channels, H/4, W/4)

``forward`` is the normalising direction (colour → latent, used to extract
and for the likelihood); ``inverse`` generates colour from a latent (used to
embed). The latent has exactly two values per pixel, the size of ``ab``, so
its signs can carry two raw bits per pixel. Sides must be multiples of 4.
The condition is the *lightness* ``L`` in Lab units, ``(N, 1, H, W)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..inn import AffineCoupling, HaarWavelet, InvertibleConv1x1, InvertibleSequential
from ..inn.base import InvertibleModule, LogDet
from ..inn.subnets import conv_factory
from ..zoo import register_architecture
from .color import gamut_radius

#: Sides of the colour image must be multiples of this (two Haar steps).
SIZE_MULTIPLE = 4


class ConditionNet(nn.Module):
    """Features of the lightness image at the two resolutions the couplings work at.

    A pixel-unshuffle first (lossless, cheaper than full-resolution convs),
    then a few 3×3 convolutions; a strided one for the coarse level.
    """

    def __init__(self, width: int, out_channels: int, slope: float = 0.2) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.PixelUnshuffle(2),
            nn.Conv2d(4, width, 3, padding=1),
            nn.LeakyReLU(slope),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(slope),
        )
        self.head1 = nn.Conv2d(width, out_channels, 3, padding=1)
        self.down = nn.Sequential(
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.LeakyReLU(slope),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(slope),
        )
        self.head2 = nn.Conv2d(width, out_channels, 3, padding=1)

    def forward(self, lightness: Tensor) -> tuple[Tensor, Tensor]:
        h = self.stem(lightness / 50.0 - 1.0)
        return self.head1(h), self.head2(self.down(h))


#: Smallest gamut radius used (Lab units): at L = 0 or 100 the slice is a point.
GAMUT_FLOOR = 1.0
#: How close to the gamut boundary a received colour may be taken to lie.
_EDGE = 1e-4


def gamut_map(x: Tensor, lightness: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
    """The radial bijection between the plane and the sRGB gamut slice at ``lightness``.

    ``ab = R(θ)·tanh(r / R(θ))·(cos θ, sin θ)`` for ``x = r·(cos θ, sin θ)``,
    where ``R(θ)`` is how far the gamut reaches from grey in direction θ
    (:func:`~.color.gamut_radius`, at least ``GAMUT_FLOOR``). Near grey it is
    the identity; no output can leave the gamut, so the stego needs no
    clipping, which otherwise destroys most of the bits it touches. Returns
    the mapped tensor and the per-sample log-determinant of the direction
    taken (forward: plane → gamut).
    """
    radius_in = x.norm(dim=1, keepdim=True)
    direction = x / radius_in.clamp_min(1e-12)
    direction = torch.where(
        radius_in > 0, direction, torch.tensor([1.0, 0.0]).to(x).view(1, 2, 1, 1)
    )
    reach = gamut_radius(lightness.detach(), direction.detach()).clamp_min(GAMUT_FLOOR)
    if reverse:
        u = torch.atanh((radius_in / reach).clamp(max=1 - _EDGE))
        out = reach * u * direction
    else:
        u = radius_in / reach
        out = reach * torch.tanh(u) * direction
    log_det = _radial_log_det(u)
    return out, (-log_det if reverse else log_det).flatten(1).sum(1)


def _radial_log_det(u: Tensor) -> Tensor:
    """``log(tanh(u)/u) − 2·log cosh(u)``: the plane → gamut Jacobian at ``u = r / R``."""
    small = u < 1e-3
    safe = torch.where(small, torch.ones_like(u), u)
    ratio = torch.where(small, -(u**2) / 3, torch.log(torch.tanh(safe) / safe))
    log_cosh = u + F.softplus(-2 * u) - math.log(2)
    return ratio - 2 * log_cosh


def _level(
    channels: int, blocks: int, hidden: int, cond: int, clamp: float, seed: int
) -> InvertibleSequential:
    """One resolution: a Haar step, then ``blocks`` × (1×1 conv, conditional coupling)."""
    layers: list[InvertibleModule] = [HaarWavelet("orthonormal")]
    for i in range(blocks):
        layers.append(InvertibleConv1x1(channels, seed=seed + i))
        layers.append(
            AffineCoupling(
                channels, channels // 2, conv_factory(hidden), clamp=clamp, cond_channels=cond
            )
        )
    return InvertibleSequential(*layers)


@register_architecture("steg-cinn")
class StegCINN(InvertibleModule):
    """Conditional INN between ``ab`` colour (Lab units) and a standard-normal latent."""

    @dataclass
    class Config:
        blocks1: int = 3
        blocks2: int = 3
        hidden1: int = 32
        hidden2: int = 48
        cond_width: int = 32
        cond_channels: int = 16
        clamp: float = 1.5
        #: ``ab`` is divided by this before the flow (natural ``ab`` spreads about ±25).
        ab_scale: float = 25.0
        #: End the generative direction with :func:`gamut_map`, so every colour the
        #: model generates lies inside the sRGB gamut at the cover's lightness.
        gamut_map: bool = False

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config or self.Config()
        if min(config.blocks1, config.blocks2) < 1 or config.ab_scale <= 0:
            raise ValueError("blocks1, blocks2 must be >= 1 and ab_scale > 0")
        self.condition = ConditionNet(config.cond_width, config.cond_channels)
        cc, clamp = config.cond_channels, config.clamp
        self.level1 = _level(8, config.blocks1, config.hidden1, cc, clamp, seed=0)
        self.level2 = _level(32, config.blocks2, config.hidden2, cc, clamp, seed=100)

    size_multiple = SIZE_MULTIPLE

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        if cond is None:
            raise ValueError("StegCINN needs the lightness L as cond")
        return self.run(x, self.condition(cond), cond, reverse=reverse, need_log_det=need_log_det)

    def run(
        self,
        x: Tensor,
        features: tuple[Tensor, Tensor],
        lightness: Tensor,
        *,
        reverse: bool = False,
        need_log_det: bool = False,
    ) -> tuple[Tensor, LogDet]:
        """The flow with precomputed condition features (:meth:`ConditionNet.forward`)."""
        scale = self.config.ab_scale
        levels = [(self.level1, features[0]), (self.level2, features[1])]
        log_det = x.new_zeros(x.shape[0]) if need_log_det else None
        if reverse:
            levels.reverse()
        else:
            if self.config.gamut_map:
                x, ld_map = gamut_map(x, lightness, reverse=True)
                log_det = log_det + ld_map if log_det is not None else None
            x = x / scale
        for level, feats in levels:
            x, ld = level._transform(x, feats, reverse=reverse, need_log_det=need_log_det)
            if log_det is not None and ld is not None:
                log_det = log_det + ld
        if reverse:
            x = x * scale
            if self.config.gamut_map:
                x, ld_map = gamut_map(x, lightness)
                log_det = log_det + ld_map if log_det is not None else None
        if log_det is not None:
            numel = x[0].numel()
            log_det = log_det + (numel * math.log(scale) * (1 if reverse else -1))
        return x, log_det

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = input_shape
        return (16 * c, h // 4, w // 4)
