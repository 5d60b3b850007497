"""IRN's training objective, with the published reductions and weights.

The published code (``IRN_model.py``) sums every loss over pixels and
channels and averages over the batch, so the weights below are only
meaningful with these reductions:

* LR guidance ``λ_fit · Σ(y − bicubic(x))²`` with ``λ_fit = s²`` (4, 9, 16, 64
  for ×2, ×3, ×4, ×8 in ``options/train/train_IRN_x*.yml``; 3 for IRN-Color,
  where the target is the luma);
* HR reconstruction ``λ_rec · Σ √((x − x̂)² + 1e-6)`` (Charbonnier; "l1" in
  their options), ``x̂`` decoded from the quantised LR and a freshly sampled
  ``z ~ N(0, I)`` (IRN-Color: ``z = 0``), ``λ_rec = 1``;
* distribution matching ``λ_ce · Σ z²`` (the Gaussian negative log-likelihood
  up to a constant), ``λ_ce = 1``.

The bicubic target: IRN resizes with its own port of MATLAB's ``imresize``
(cubic kernel a = −0.5, widened to antialias, mirrored borders). PyTorch's
``interpolate(mode="bicubic", antialias=True)`` uses the same kernel and
widening; we measured it equal to IRN's ``imresize_np`` to 2e-7 inside the
image, differing only on the outermost 1–2 pixels (at most 1e-3, a quarter
of an 8-bit level) because it renormalises the kernel at the border instead of
mirroring. That is what :func:`bicubic_downscale` uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def bicubic_downscale(x: Tensor, scale: int) -> Tensor:
    """Antialiased bicubic downscaling by an integer factor (IRN's LR guidance target)."""
    if scale == 1:
        return x
    return F.interpolate(
        x,
        scale_factor=1 / scale,
        mode="bicubic",
        antialias=True,
        align_corners=False,
        recompute_scale_factor=False,
    )


def sum_squares(a: Tensor, b: Tensor) -> Tensor:
    """``Σ (a − b)²`` per sample, averaged over the batch (IRN's "l2")."""
    return (a - b).pow(2).flatten(1).sum(1).mean()


def charbonnier(a: Tensor, b: Tensor, eps: float = 1e-6) -> Tensor:
    """``Σ √((a − b)² + eps)`` per sample, averaged over the batch (IRN's "l1")."""
    d = a - b
    return torch.sqrt(d * d + eps).flatten(1).sum(1).mean()


def latent_nll(z: Tensor) -> Tensor:
    """``Σ z²`` per sample, averaged over the batch: pushes ``z`` towards N(0, I)."""
    return z.pow(2).flatten(1).sum(1).mean()


@dataclass
class LossWeights:
    """Weights of the three terms; ``fit=None`` means the published ``scale²``."""

    fit: float | None = None
    rec: float = 1.0
    latent: float = 1.0
    rec_criterion: str = "charbonnier"
    fit_criterion: str = "l2"

    def fit_weight(self, scale: int) -> float:
        return float(scale**2) if self.fit is None else self.fit


def criterion(name: str) -> Callable[[Tensor, Tensor], Tensor]:
    """The loss function called ``name`` ("l2", "charbonnier" or "l1" = Charbonnier)."""
    if name == "l2":
        return sum_squares
    if name in ("charbonnier", "l1"):
        return charbonnier
    raise ValueError(f"unknown criterion {name!r}: use 'l2' or 'charbonnier'")
