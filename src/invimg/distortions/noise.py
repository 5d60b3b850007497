"""Sensor-like noise: additive Gaussian and signal-dependent Poisson (shot) noise.

Both draw the same noise in training and evaluation (the noise *is* the real
channel); in training the gradient passes straight through the noise, which is
exact for additive noise and the usual estimator for Poisson sampling.
Random numbers come from the caller's ``generator`` (drawn on the CPU), so a
training step or a benchmark is reproducible on any device.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Distortion, gaussian_like

#: σ (8-bit levels) at which the severity reaches 1, for both noises.
_FULL_SEVERITY_SIGMA = 16.0


class GaussianNoise(Distortion):
    """``x + σ/255 · N(0, 1)``; ``strength`` is σ in 8-bit levels (2 = σ of 2/255)."""

    kind = "gaussian"
    unit = "σ in 8-bit levels"

    def __init__(self, strength: float = 2.0) -> None:
        if not 0 <= strength <= 255:
            raise ValueError(f"gaussian: σ must be in 0..255 levels, got {strength:g}")
        super().__init__(strength)

    def exact(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return x + gaussian_like(x, generator) * (self.strength / 255)

    def approximate(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.exact(x, generator)

    def severity(self) -> float:
        return min(1.0, self.strength / _FULL_SEVERITY_SIGMA)


class PoissonNoise(Distortion):
    """Photon counting: ``Poisson(λ·x) / λ``; ``strength`` is λ, the photons at white.

    The variance is ``x / λ``: proportional to the intensity, so dark areas are
    cleaner than bright ones (unlike Gaussian noise). Fewer photons, more noise.
    """

    kind = "poisson"
    unit = "photons at white"

    def __init__(self, strength: float = 1000.0) -> None:
        if not strength > 0:
            raise ValueError(f"poisson: photons at white must be > 0, got {strength:g}")
        super().__init__(strength)

    def exact(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        rate = (x.detach().clamp(min=0) * self.strength).float().cpu()
        counts = torch.poisson(rate, generator=generator)
        return (counts / self.strength).to(device=x.device, dtype=x.dtype)

    def approximate(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return x + (self.exact(x, generator) - x).detach()

    def severity(self) -> float:
        """σ at mid-grey in 8-bit levels, on the Gaussian noise's scale."""
        return min(1.0, 255 * math.sqrt(0.5 / self.strength) / _FULL_SEVERITY_SIGMA)
