"""Spatial Probabilistic Diversity Normalization (SPDNorm), PD-GAN's core (§3.1–3.2).

A feature map ``F_in`` grown from noise is normalised per pixel across its
channels (positional normalisation) and modulated by the prior image ``P``:

    SPDNorm(F_in; P, D) = norm(F_in) · (1 + γ(P)·D) + β(P)·D

``D`` says how much the prior may decide at each pixel. Two maps are used:

* the **hard** map ``D_h`` (:func:`hard_probability_map`) is fixed by the
  mask: 1 on known pixels, then the hole is eroded ring by ring (iterative
  dilation of the known region) and the ring added at step ``i`` gets
  ``1/k^i``; what no ring reached gets the last ring's value. Near the
  border the prior rules (faithful), far inside the noise does (diverse).
  The paper sets ``k = 4``; the published code uses ``e``. ``k`` is a setting.
* the **soft** map ``D_s = σ(conv([F_prior, F_in]))·(1 − M) + M`` is
  learned from the prior's features and the current ones.

An SPDNorm residual block runs ``F_in`` through two hard-SPDNorm → LReLU →
conv stages and adds a soft-SPDNorm → 1×1 conv shortcut:

    F_in ─► SPDNorm_h ─► LReLU ─► conv3 ─► SPDNorm_h ─► LReLU ─► conv3 ─┐
      └───► SPDNorm_s ─────────────────────────────────────► conv1 ───(+)─► F_out
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm


def grow_known(known: Tensor, kernel: int) -> Tensor:
    """The known region dilated by a ``kernel``² window (1 where any known pixel is in reach)."""
    return F.max_pool2d(known, kernel, stride=1, padding=kernel // 2)


def hard_probability_map(known: Tensor, iterations: int, kernel: int, k: float) -> Tensor:
    """PD-GAN's hard map ``D_h``: 1 on known pixels, ``1/k^i`` on the i-th ring into the hole.

    ``known`` is ``B×1×H×W`` with 1 on observed pixels. Each of
    ``iterations`` steps dilates the known region by ``kernel // 2`` pixels;
    the newly reached ring ``E_i = M_i − M_{i−1}`` gets probability ``k^−i``.
    The rest of the hole (beyond the last ring) gets ``k^−iterations``, as in
    the published code.
    """
    if iterations < 1 or kernel < 3 or kernel % 2 == 0 or k <= 1:
        raise ValueError("need iterations >= 1, an odd kernel >= 3 and k > 1")
    reached = known
    hard = known.clone()
    for i in range(1, iterations + 1):
        grown = grow_known(reached, kernel)
        hard = hard + (grown - reached) * k**-i
        reached = grown
    return hard + (1 - reached) * k**-iterations


def positional_norm(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Zero mean, unit variance across channels at every pixel (Li et al. 2019)."""
    mean = x.mean(1, keepdim=True)
    var = x.var(1, keepdim=True, unbiased=True)
    return (x - mean) / (var + eps).sqrt()


class SPDNorm(nn.Module):
    """Positional normalisation modulated by the prior, weighted by a probability map."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.shared = nn.Sequential(nn.Conv2d(3, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: Tensor, prior: Tensor, weight: Tensor) -> Tensor:
        """``x`` (B×C×h×w) with ``prior`` and ``weight`` already at its resolution."""
        act = self.shared(prior)
        return positional_norm(x) * (1 + self.gamma(act) * weight) + self.beta(act) * weight


class SPDNormResBlock(nn.Module):
    """The SPDNorm residual block (hard path + soft shortcut), see the module docstring."""

    def __init__(
        self, c_in: int, c_out: int, hidden: int, iterations: int, kernel: int, k: float
    ) -> None:
        super().__init__()
        c_mid = min(c_in, c_out)
        self.iterations, self.kernel, self.k = iterations, kernel, k
        self.conv_0 = spectral_norm(nn.Conv2d(c_in, c_mid, 3, padding=1))
        self.conv_1 = spectral_norm(nn.Conv2d(c_mid, c_out, 3, padding=1))
        self.conv_s = spectral_norm(nn.Conv2d(c_in, c_out, 1, bias=False))
        self.norm_0 = SPDNorm(c_in, hidden)
        self.norm_1 = SPDNorm(c_mid, hidden)
        self.norm_s = SPDNorm(c_in, hidden)
        self.prior_features = nn.Sequential(
            nn.Conv2d(3, hidden, 3, padding=1),
            nn.InstanceNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, c_in, 3, padding=1),
        )
        self.soft_conv = nn.Conv2d(2 * c_in, c_in, 3, padding=1)

    def maps(self, x: Tensor, prior: Tensor, known: Tensor) -> tuple[Tensor, Tensor]:
        """``(D_h, D_s)`` at the resolution of ``x`` (prior and known already resized)."""
        hard = hard_probability_map(known, self.iterations, self.kernel, self.k)
        soft = torch.sigmoid(self.soft_conv(torch.cat([self.prior_features(prior), x], 1)))
        return hard, soft * (1 - known) + known

    def forward(self, x: Tensor, prior: Tensor, known: Tensor) -> Tensor:
        """One block; ``prior`` (B×3×H×W) and ``known`` (B×1×H×W) at any resolution."""
        size = x.shape[-2:]
        prior = F.interpolate(prior, size=size, mode="nearest")
        known = F.interpolate(known, size=size, mode="nearest")
        hard, soft = self.maps(x, prior, known)
        soft_out = self.conv_s(self.norm_s(x, prior, soft))
        h = self.conv_0(F.leaky_relu(self.norm_0(x, prior, hard), 0.2))
        h = self.conv_1(F.leaky_relu(self.norm_1(h, prior, hard), 0.2))
        return soft_out + h
