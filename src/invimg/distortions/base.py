"""What every distortion offers: one kind, one strength, two behaviours.

A model that must survive a channel (JPEG, noise, resizing, rounding) is
trained with the channel inside its graph, and measured through the real one.
:class:`Distortion` makes that one module with two modes:

* ``train()`` (the default of a fresh module): a differentiable stand-in whose
  gradient tells the network which details the channel destroys;
* ``eval()``: the real thing (libjpeg through Pillow, exact 8-bit rounding,
  Pillow's resampling), with an identity gradient where the real thing has none.

Every distortion has a ``kind`` (its name in :data:`KINDS`), a ``strength`` in
its own natural unit (JPEG quality, σ in 8-bit levels, …) and a
:meth:`~Distortion.severity` in [0, 1] (0 = harmless) that is comparable
across kinds. :meth:`~Distortion.condition` turns kind and severity into the
vector a distortion-conditioned network (RIIS's modulation) reads: the one-hot
kind followed by the severity.

Shape: ``(N, 3, H, W)`` RGB in [0, 1] → the same shape, not clamped (noise may
leave [0, 1]; the channel's 8-bit rounding comes after).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

#: Every distortion kind, in the order of the one-hot part of :meth:`Distortion.condition`.
KINDS: tuple[str, ...] = ("none", "round", "gaussian", "poisson", "jpeg", "resize")
#: Length of a condition vector: one-hot kind + severity.
CONDITION_DIM = len(KINDS) + 1


class Distortion(nn.Module):
    """Base class: ``forward(x, generator=None)``; see the module docstring."""

    kind: ClassVar[str] = "none"
    #: What ``strength`` means, for error messages and ``--help``.
    unit: ClassVar[str] = "unused"

    def __init__(self, strength: float = 0.0) -> None:
        super().__init__()
        self.strength = float(strength)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The differentiable approximation in training mode, the real channel in eval mode."""
        return self.approximate(x, generator) if self.training else self.exact(x, generator)

    def approximate(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Differentiable stand-in (training)."""
        return x

    def exact(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The real channel (evaluation)."""
        return x

    def severity(self) -> float:
        """How much the channel destroys, in [0, 1], comparable across kinds."""
        return 0.0

    def condition(self, batch: int = 1, device: torch.device | str = "cpu") -> Tensor:
        """``(batch, CONDITION_DIM)``: one-hot kind, then severity."""
        vector = torch.zeros(CONDITION_DIM, device=device)
        vector[KINDS.index(self.kind)] = 1.0
        vector[-1] = self.severity()
        return vector.expand(batch, CONDITION_DIM)

    @property
    def spec(self) -> str:
        """The text form that :func:`invimg.distortions.parse_distortion` reads back."""
        return self.kind if self.kind in ("none",) else f"{self.kind}:{self.strength:g}"

    def extra_repr(self) -> str:
        return f"strength={self.strength:g}"


class Identity(Distortion):
    """No channel at all (the float stego): the reference point of the condition space."""

    kind = "none"


class Quantization(Distortion):
    """Rounding to ``strength`` bits per channel (8: what a PNG stores), with clamping.

    Training: straight-through (forward rounds, gradient is the identity).
    Evaluation: the same rounding, exactly.
    """

    kind = "round"
    unit = "bits per channel"

    def __init__(self, strength: float = 8) -> None:
        if strength != int(strength) or not 1 <= strength <= 16:
            raise ValueError(f"round: bits must be an integer from 1 to 16, got {strength:g}")
        super().__init__(strength)

    @property
    def levels(self) -> int:
        return 2 ** int(self.strength) - 1

    def exact(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.round(x.clamp(0, 1) * self.levels) / self.levels

    def approximate(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return x + (self.exact(x) - x).detach()

    def severity(self) -> float:
        return min(1.0, max(0.0, (8 - self.strength) / 7))


def gaussian_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, 1) of ``x``'s shape drawn on the CPU (the same numbers on any device)."""
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float32)
    return noise.to(device=x.device, dtype=x.dtype)
