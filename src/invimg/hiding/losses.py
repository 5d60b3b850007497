"""The hiding losses of the published code, with their weights and reductions.

HiNet's ``train.py`` (and DeepMIH's, per stage) minimise

    λ_reveal · Σ‖secret_rev − secret‖²      ("reconstruction_loss")
  + λ_hide   · Σ‖stego − cover‖²             ("guide_loss")
  + λ_low    · Σ‖LL(stego) − LL(cover)‖²     ("low_frequency_loss")

with ``MSELoss(size_average=False)``: a *sum* over batch and pixels, not a
mean. LL is the low-pass Haar band (first 3 wavelet channels). The published
weights are 5 / 1 / 1 for HiNet (the paper prints others) and 2 / 1 / 1 per
stage for DeepMIH; every stage's stego is compared with the original cover.

What we chose:

* ``reduction: sum`` reproduces the published scale (the default);
  ``mean`` divides by the number of elements, which keeps the loss around
  1e-3 whatever the crop and batch, friendlier to logs and to the
  divergence guard. Adam is invariant to the scale up to ``eps``.
* DeepMIH defines its ``low_frequency_loss`` as L1 but calls ``guide_loss``
  (MSE) for it; we use MSE, as the code that ran.
* DeepMIH adds 0.01 × a VGG perceptual loss; we leave it out (it needs
  ImageNet weights that cannot ship offline).
* The revealed secrets come from the 8-bit stego (see
  :func:`invimg.io.quantize_st`), not the float one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError
from ..inn import haar_dwt
from ..training.config import build_section
from .base import Z_MODES, HideResult, RevealResult


@dataclass
class HidingLossConfig:
    """The ``loss:`` section of a hiding recipe."""

    reveal: float = 5.0
    hide: float = 1.0
    low_frequency: float = 1.0
    reduction: str = "sum"
    #: z used for the training-time reveal ("gaussian" as published, or "zeros").
    z: str = "gaussian"
    #: Round the stego to 8 bits (straight-through) before revealing.
    quantize: bool = True

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> HidingLossConfig:
        """Validate a recipe's ``loss`` mapping; unknown keys are errors, not ignored."""
        config = build_section(cls, raw, "loss.", what="loss")
        if config.reduction not in ("sum", "mean"):
            raise ConfigError("loss.reduction must be 'sum' or 'mean'")
        if config.z not in Z_MODES:
            raise ConfigError(f"loss.z must be one of {', '.join(Z_MODES)}")
        if min(config.reveal, config.hide, config.low_frequency) < 0:
            raise ConfigError("loss weights must be >= 0")
        return config


def squared_error(a: Tensor, b: Tensor, reduction: str) -> Tensor:
    """Sum (as published) or mean of the squared difference."""
    diff = (a - b).pow(2)
    return diff.sum() if reduction == "sum" else diff.mean()


def low_frequency(a: Tensor) -> Tensor:
    """The LL Haar band (first 3 channels of the orthonormal DWT)."""
    return haar_dwt(a)[:, :3]


def hiding_loss(
    cover: Tensor,
    secrets: Sequence[Tensor],
    hidden: HideResult,
    revealed: RevealResult,
    config: HidingLossConfig,
) -> tuple[Tensor, dict[str, float]]:
    """Weighted total and its named terms (summed over stages and secrets)."""
    red = config.reduction
    hide = sum_terms(squared_error(s, cover, red) for s in hidden.stages)
    cover_ll = low_frequency(cover)
    low = sum_terms(squared_error(low_frequency(s), cover_ll, red) for s in hidden.stages)
    reveal = sum_terms(squared_error(r, s, red) for r, s in zip(revealed.secrets, secrets))
    total = config.reveal * reveal + config.hide * hide + config.low_frequency * low
    terms = {"reveal": reveal.item(), "hide": hide.item(), "low_freq": low.item()}
    return total, terms


def sum_terms(terms: Any) -> Tensor:
    """Sum an iterable of scalar tensors (``sum`` with a tensor start, typed)."""
    values = list(terms)
    return torch.stack(values).sum() if values else torch.zeros(())
