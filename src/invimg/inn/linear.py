"""Invertible linear maps on channels: 1×1 convolution (LU), permutation, squeeze.

These move information between channels or between space and channels at a
known, cheap log-determinant. ``LearnableDownsampling`` (squeeze + 1×1 conv
initialised to a mean/DCT basis) is IRN's arbitrary-integer-scale replacement
for the Haar step; ``InvertibleConv1x1(init=RGB→YUV)`` is IRN-Color's colour map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import InvertibleModule, LogDet


class InvertibleConv1x1(InvertibleModule):
    """Glow's invertible 1×1 convolution with an LU-parametrised weight.

    ``W = P · L · (U + diag(sign · exp(log_s)))``: the log-determinant is
    ``H · W · Σ log_s`` and the matrix can never become singular by accident.
    """

    perm: Tensor
    sign_s: Tensor
    lower_mask: Tensor

    def __init__(self, channels: int, init: Tensor | None = None, seed: int = 0) -> None:
        super().__init__()
        if init is None:
            gen = torch.Generator().manual_seed(seed)
            init = torch.linalg.qr(
                torch.randn(channels, channels, generator=gen, dtype=torch.float64)
            )[0]
        init = init.to(torch.float64)
        if init.shape != (channels, channels):
            raise ValueError(f"init must be {channels}×{channels}, got {tuple(init.shape)}")
        p, lower, upper = torch.linalg.lu(init)
        diag = torch.diagonal(upper)
        if bool((diag == 0).any()):
            raise ValueError("init matrix is singular")
        self.register_buffer("perm", p.float())
        self.register_buffer("sign_s", torch.sign(diag).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower.float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(diag.abs()).float())

    def weight(self) -> Tensor:
        """The current C×C matrix."""
        eye = torch.eye(self.lower.shape[0], device=self.lower.device, dtype=self.lower.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        w = self.weight()
        if reverse:
            w = torch.linalg.inv(w.double()).to(w.dtype)
        y = F.conv2d(x, w.to(x.dtype)[:, :, None, None])
        if not need_log_det:
            return y, None
        log_det = self.log_s.sum() * x.shape[-1] * x.shape[-2]
        return y, (-log_det if reverse else log_det).expand(x.shape[0]).to(x.dtype)


class ChannelPermutation(InvertibleModule):
    """A fixed (seeded) shuffle of channels, so couplings mix every channel."""

    perm: Tensor
    perm_inv: Tensor

    def __init__(self, channels: int, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        perm = torch.randperm(channels, generator=gen)
        self.register_buffer("perm", perm)
        self.register_buffer("perm_inv", torch.argsort(perm))

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        return x[:, self.perm_inv if reverse else self.perm], None


class Squeeze(InvertibleModule):
    """Space-to-depth: each f×f patch becomes f² channels (``pixel_unshuffle`` order)."""

    def __init__(self, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        if reverse:
            return F.pixel_shuffle(x, self.factor), None
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(
                f"Squeeze({self.factor}) needs H, W divisible by {self.factor}, "
                f"got {tuple(x.shape[-2:])}"
            )
        return F.pixel_unshuffle(x, self.factor), None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = input_shape
        return (c * self.factor**2, h // self.factor, w // self.factor)


def mean_dct_basis(factor: int) -> Tensor:
    """f²×f² basis of f×f patches: orthonormal 2-D DCT-II scaled by 1/f.

    Its first row is the patch mean, so the first band is a box-filtered
    thumbnail; for f = 2 it equals IRN's mean-scaled Haar up to signs.
    """
    n = torch.arange(factor, dtype=torch.float64)
    k = n[:, None]
    dct = torch.cos(math.pi * (2 * n[None, :] + 1) * k / (2 * factor)) * math.sqrt(2 / factor)
    dct[0] /= math.sqrt(2)
    return torch.kron(dct, dct) / factor


class LearnableDownsampling(InvertibleModule):
    """Squeeze by ``factor`` then a learnable invertible channel mix, band-major out.

    Initialised so the first ``channels`` outputs are the f×f means of each
    input channel (the LR image) and the rest are DCT detail bands. Any
    integer factor works (IRN's ×3), unlike the fixed Haar step.
    """

    def __init__(self, channels: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.squeeze = Squeeze(factor)
        basis = mean_dct_basis(factor)
        k = factor**2
        # pixel_unshuffle order is channel-major (c·k + p); we want band-major (b·C + c).
        init = torch.zeros(channels * k, channels * k, dtype=torch.float64)
        for c in range(channels):
            for b in range(k):
                init[b * channels + c, c * k : (c + 1) * k] = basis[b]
        self.mix = InvertibleConv1x1(channels * k, init=init)

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        if reverse:
            z, log_det = self.mix._transform(x, cond, reverse=True, need_log_det=need_log_det)
            return self.squeeze.inverse(z), log_det
        z = self.squeeze(x)
        return self.mix._transform(z, cond, reverse=False, need_log_det=need_log_det)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.squeeze.output_shape(input_shape)


RGB_TO_YUV = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]],
    dtype=torch.float64,
)
