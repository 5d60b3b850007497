"""sRGB ↔ CIE L*a*b* (D65, 2° observer) in PyTorch, differentiable.

Steg-cINN keeps the cover's lightness ``L`` and writes the payload into the
colour channels ``a, b``, so both the training loss (rounding in the loop)
and embedding/extraction need the conversion on tensors, with gradients.
The constants are scikit-image's (``skimage.color.rgb2lab``/``lab2rgb``),
which the tests use as the reference.

Shapes: ``(N, 3, H, W)``; RGB in [0, 1] (gamma-encoded sRGB), Lab with
``L`` in [0, 100] and ``a, b`` roughly in [-128, 127]. :func:`lab_to_rgb`
does not clip: a colour outside the sRGB gamut comes back outside [0, 1], so
the caller can see (and penalise) it before clipping.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Linear sRGB → XYZ (scikit-image's ``xyz_from_rgb``).
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
#: The D65 white point (2° observer), as scikit-image.
WHITE_D65 = (0.95047, 1.0, 1.08883)
_EPS_LAB = 0.008856
_KAPPA = 7.787
_OFFSET = 16.0 / 116.0
_F_THRESHOLD = 0.2068966  # f(_EPS_LAB): where the cube root takes over


def _matrix(rows: tuple[tuple[float, ...], ...], ref: Tensor) -> Tensor:
    return torch.tensor(rows, dtype=torch.float64).to(device=ref.device, dtype=ref.dtype)


def _apply(m: Tensor, x: Tensor) -> Tensor:
    return torch.einsum("ij,njhw->nihw", m, x)


def srgb_to_linear(c: Tensor) -> Tensor:
    """Undo the sRGB transfer curve (values outside [0, 1] follow the same formulas)."""
    power = ((c.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4
    return torch.where(c > 0.04045, power, c / 12.92)


def linear_to_srgb(c: Tensor) -> Tensor:
    """The sRGB transfer curve; negative values stay on its linear segment."""
    power = 1.055 * c.clamp_min(0.0031308) ** (1 / 2.4) - 0.055
    return torch.where(c > 0.0031308, power, 12.92 * c)


def _f(t: Tensor) -> Tensor:
    cube_root = t.clamp_min(_EPS_LAB) ** (1 / 3)
    return torch.where(t > _EPS_LAB, cube_root, _KAPPA * t + _OFFSET)


def _f_inverse(f: Tensor) -> Tensor:
    return torch.where(f > _F_THRESHOLD, f.clamp_min(_F_THRESHOLD) ** 3, (f - _OFFSET) / _KAPPA)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB ``(N, 3, H, W)`` → Lab ``(N, 3, H, W)``."""
    xyz = _apply(_matrix(XYZ_FROM_RGB, rgb), srgb_to_linear(rgb))
    white = rgb.new_tensor(WHITE_D65).view(1, 3, 1, 1)
    fx, fy, fz = _f(xyz / white).unbind(1)
    lab = (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
    return torch.stack(lab, 1)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """Lab ``(N, 3, H, W)`` → sRGB, *not* clipped to [0, 1] (see the module docstring)."""
    big_l, a, b = lab.unbind(1)
    fy = (big_l + 16) / 116
    f = torch.stack((fy + a / 500, fy, fy - b / 200), 1)
    white = lab.new_tensor(WHITE_D65).view(1, 3, 1, 1)
    xyz = _f_inverse(f) * white
    rgb_lin = _apply(torch.linalg.inv(_matrix(XYZ_FROM_RGB, lab).double()).to(lab.dtype), xyz)
    return linear_to_srgb(rgb_lin)


#: |a|, |b| beyond this are outside sRGB for every lightness (its gamut spans about
#: a ∈ [-86, 98], b ∈ [-108, 95]); clamping there keeps ``lab_to_rgb`` (which cubes)
#: and its gradients bounded for wild inputs.
AB_LIMIT = 110.0


def limit_ab(ab: Tensor) -> Tensor:
    """``ab`` clamped to ±:data:`AB_LIMIT` (changes nothing that sRGB can show)."""
    return ab.clamp(-AB_LIMIT, AB_LIMIT)


def gamut_excess(rgb: Tensor) -> Tensor:
    """How far each value lies outside [0, 1] (0 inside): what clipping will destroy."""
    return (rgb - 1).clamp_min(0) + (-rgb).clamp_min(0)


def gamut_radius(lightness: Tensor, direction: Tensor, iters: int = 20) -> Tensor:
    """How far from grey the sRGB gamut reaches at ``lightness`` along unit ``direction``.

    ``lightness``: ``(N, 1, H, W)``; ``direction``: ``(N, 2, H, W)`` unit (a, b)
    vectors. Bisection on the chroma radius in [0, AB_LIMIT] (the constant-L
    slices of the sRGB gamut are star-shaped around grey), to ``AB_LIMIT /
    2**iters`` Lab units. No gradient flows through it. At L = 0 or 100 the
    slice is a point; the radius is then 0 (callers keep a floor).
    """
    with torch.no_grad():
        lo = torch.zeros_like(lightness)
        hi = torch.full_like(lightness, AB_LIMIT)
        for _ in range(iters):
            mid = (lo + hi) / 2
            rgb = lab_to_rgb(torch.cat((lightness, mid * direction), 1))
            inside = ((rgb >= 0) & (rgb <= 1)).all(1, keepdim=True)
            lo = torch.where(inside, mid, lo)
            hi = torch.where(inside, hi, mid)
        return lo
