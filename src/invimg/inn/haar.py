"""Haar wavelet transform as an invertible block, in both published conventions.

Each 2×2 pixel patch ``[[a, c], [b, d]]`` (``a`` top-left, ``b`` bottom-left,
``c`` top-right, ``d`` bottom-right) becomes four bands, stacked band-major:
the C low-pass channels first, then the C channels of each detail band.

* ``"orthonormal"`` (HiNet, DeepMIH): LL = (a+b+c+d)/2, HL = (−a−b+c+d)/2,
  LH = (−a+b−c+d)/2, HH = (a−b−c+d)/2. Orthogonal, so log|det| = 0.
* ``"mean"`` (IRN): the ±1 filters ``[[1,1],[1,1]]``, ``[[1,−1],[1,−1]]``,
  ``[[1,1],[−1,−1]]``, ``[[1,−1],[−1,1]]`` divided by 4, so the first band is
  the 2×2 mean (a proper thumbnail). Note the detail bands' signs differ from
  HiNet's; log|det| = −log 2 per input element.

Shape: ``(N, C, H, W) -> (N, 4C, H/2, W/2)``; H and W must be even.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Literal

import torch
from torch import Tensor

from .base import InvertibleModule, LogDet

HaarConvention = Literal["orthonormal", "mean"]

# Rows: output bands; columns: the patch pixels in the order (a, b, c, d).
_ORTHONORMAL = [[1, 1, 1, 1], [-1, -1, 1, 1], [-1, 1, -1, 1], [1, -1, -1, 1]]
_MEAN = [[1, 1, 1, 1], [1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]]


def haar_matrix(convention: HaarConvention) -> Tensor:
    """The 4×4 matrix taking patch pixels (a, b, c, d) to the four bands."""
    if convention == "orthonormal":
        return torch.tensor(_ORTHONORMAL, dtype=torch.float64) / 2
    if convention == "mean":
        return torch.tensor(_MEAN, dtype=torch.float64) / 4
    raise ValueError(f"unknown Haar convention {convention!r}; use 'orthonormal' or 'mean'")


def _check_even(x: Tensor) -> None:
    if x.dim() != 4 or x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"Haar transform needs N×C×H×W with even H and W, got {tuple(x.shape)}")


def exact_region(x: Tensor) -> contextlib.AbstractContextManager[Any]:
    """Autocast off, where it is on: invertible arithmetic must not run in bf16.

    Under bf16 autocast (training on a GPU or a CPU with native bf16) only the
    sub-networks' convolutions should drop precision; an einsum here would
    otherwise become a bf16 matmul and the inverse would no longer undo it.
    """
    if torch.is_autocast_enabled(x.device.type):
        return torch.autocast(x.device.type, enabled=False)
    return contextlib.nullcontext()


def haar_dwt(x: Tensor, convention: HaarConvention = "orthonormal") -> Tensor:
    """One level of the 2-D Haar transform, band-major output."""
    _check_even(x)
    with exact_region(x):
        return _haar_dwt(x, convention)


def _haar_dwt(x: Tensor, convention: HaarConvention) -> Tensor:
    patch = torch.stack(
        (x[..., 0::2, 0::2], x[..., 1::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 1::2]), dim=1
    )
    m = haar_matrix(convention).to(dtype=x.dtype, device=x.device)
    bands = torch.einsum("kp,npchw->nkchw", m, patch)
    n, _, c, h, w = bands.shape
    return bands.reshape(n, 4 * c, h, w)


def haar_iwt(y: Tensor, convention: HaarConvention = "orthonormal") -> Tensor:
    """Exact inverse of :func:`haar_dwt`."""
    c4 = y.shape[1]
    if c4 % 4:
        raise ValueError(f"inverse Haar transform needs 4k channels, got {c4}")
    with exact_region(y):
        return _haar_iwt(y, convention)


def _haar_iwt(y: Tensor, convention: HaarConvention) -> Tensor:
    n, c4, h, w = y.shape
    m_inv = torch.linalg.inv(haar_matrix(convention)).to(dtype=y.dtype, device=y.device)
    patch = torch.einsum("pk,nkchw->npchw", m_inv, y.reshape(n, 4, c4 // 4, h, w))
    x = y.new_empty(n, c4 // 4, 2 * h, 2 * w)
    x[..., 0::2, 0::2] = patch[:, 0]
    x[..., 1::2, 0::2] = patch[:, 1]
    x[..., 0::2, 1::2] = patch[:, 2]
    x[..., 1::2, 1::2] = patch[:, 3]
    return x


class HaarWavelet(InvertibleModule):
    """Invertible one-level Haar DWT (forward) / IWT (inverse)."""

    def __init__(self, convention: HaarConvention = "orthonormal") -> None:
        super().__init__()
        haar_matrix(convention)  # validates the name at build time
        self.convention: HaarConvention = convention

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        out = haar_iwt(x, self.convention) if reverse else haar_dwt(x, self.convention)
        if not need_log_det or self.convention == "orthonormal":
            return out, None
        elements = (out if reverse else x)[0].numel()
        log_det = elements * math.log(0.5)
        return out, x.new_full((x.shape[0],), -log_det if reverse else log_det)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = input_shape
        return (4 * c, h // 2, w // 2)

    def extra_repr(self) -> str:
        return f"convention={self.convention!r}"
