"""The energy minimised to invert Φ: a normalised feature loss plus two natural-image priors.

Mahendran & Vedaldi (IJCV 2016, eq. 1–7; CVPR 2015, eq. 1–5)::

    E(x) = C·‖Φ(x) − Φ0‖² / ‖Φ0‖²  +  λα·Rα(x)  +  λTV·R_TVβ(x)

* the loss is normalised by ‖Φ0‖², so C means the same for every layer;
* ``Rα`` (α = 6) keeps pixels in range: Σ over pixels of ‖x(p)‖^α, the RGB
  norm of each pixel (IJCV) or each value (CVPR) raised to α;
* ``R_TVβ`` prefers piecewise-smooth images:
  Σ ((x(i, j+1) − x(i, j))² + (x(i+1, j) − x(i, j))²)^(β/2) per channel,
  with zero difference past the last row/column (as the published code).

x is the image in 8-bit units minus the representation's mean image (its
``centre``), so a typical pixel norm is B = 80 and a typical neighbour
difference V = B/6.5. IJCV divides both priors by the number of pixels and
weighs them λα = B^-α, λTV = V^-β, so that each term is about 1 on a natural
image: the weights then need no tuning per image size or layer. The CVPR
version sums instead of averaging and is balanced through x0σ (see
:mod:`invimg.inversion.optimizer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

#: IJCV 2016 constants: typical pixel norm B, typical gradient V = B/6.5.
B = 80.0
V = B / 6.5
#: A gradient-free floor inside TV^β for β < 2 (the published code floors at 1e-6 too).
TV_EPS = 1e-6


def alpha_norm(x: Tensor, alpha: float, per_pixel: bool) -> Tensor:
    """Per image: Σ ‖x(p)‖^α over pixels (``per_pixel``) or Σ |x|^α over values. ``(N,)``."""
    if per_pixel:
        energy = x.pow(2).sum(1)  # (N, H, W): squared RGB norm of each pixel
        return energy.pow(alpha / 2).flatten(1).sum(1)
    return x.abs().pow(alpha).flatten(1).sum(1)


def tv_norm(x: Tensor, beta: float) -> Tensor:
    """Per image: Σ (dx² + dy²)^(β/2) over pixels and channels, forward differences. ``(N,)``.

    The last column's dx and the last row's dy are zero (the published
    ``x(:, [2:end end]) − x``).
    """
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    energy = dx[..., :-1, :].pow(2) + dy[..., :, :-1].pow(2)
    last_col = dy[..., :, -1:].pow(2)
    last_row = dx[..., -1:, :].pow(2)
    if beta == 2:
        total = energy.flatten(1).sum(1) + last_col.flatten(1).sum(1)
        return total + last_row.flatten(1).sum(1)
    parts = (energy, last_col, last_row)
    return sum(((p + TV_EPS).pow(beta / 2).flatten(1).sum(1) for p in parts), start=x.new_zeros(1))


def feature_loss(phi: Tensor, target: Tensor) -> Tensor:
    """Per image ‖Φ(x) − Φ0‖² / ‖Φ0‖²: the normalised reconstruction error. ``(N,)``."""
    diff = (phi - target).flatten(1).pow(2).sum(1)
    return diff / target.flatten(1).pow(2).sum(1).clamp_min(1e-12)


@dataclass(frozen=True)
class Energy:
    """The weights of the three terms, and whether the priors average over pixels (IJCV)."""

    loss_weight: float
    alpha: float
    beta: float
    lambda_alpha: float
    lambda_tv: float
    per_pixel: bool

    def priors(self, x: Tensor) -> Tensor:
        """λα·Rα + λTV·R_TVβ of each image of ``x`` (the whole jittered canvas). ``(N,)``."""
        r_alpha = alpha_norm(x, self.alpha, self.per_pixel)
        r_tv = tv_norm(x, self.beta)
        if self.per_pixel:
            pixels = x.shape[-1] * x.shape[-2]
            r_alpha, r_tv = r_alpha / pixels, r_tv / pixels
        return self.lambda_alpha * r_alpha + self.lambda_tv * r_tv
