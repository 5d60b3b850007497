"""Hide-time refinement: optimise the stego's pixels for the model's own reveal.

A trained hiding network is *amortised*: one forward pass has to serve every
cover and secret, and on content unlike its training photos (the demo's
all-fur secret, say) its stego is far from the best one that the same reveal
network could read. Fixed Neural Network Steganography (Kishore et al., ICLR
2022) and LISO (Chen et al., ICLR 2023) close that gap by optimising the stego
itself against a fixed decoder. Here the start is the network's own stego and
a few Adam steps on its pixels minimise, for a plain model (the stego kept as
a PNG)::

    cover_weight · MSE(Q(stego), cover) + Σ_k MSE(reveal(Q(stego))_k, secret_k)

``Q`` is the 8-bit rounding with a straight-through gradient, so what is
optimised is what the file will hold, and the reveal is the model's usual one
with ``z = 0``: any ``invimg reveal`` reads a refined stego, nothing about the
file changes. A sum of MSEs pulls hardest on the worst image, which is what a
user notices: on the demo's all-fur secret it lifts the secret past 4-bit LSB
and keeps the stego (BENCHMARKS.md); a sum of log-MSEs, which weighs decibels
alike, spent the same steps on the already better stego.

A robust model (RIIS) is refined for the channels it must survive, by default
the 8-bit PNG itself and JPEG at quality 90 and 75 (``refine_for``), each JPEG
the real codec (Pillow) in the forward pass with the differentiable codec's gradient
(:class:`invimg.distortions.JPEG` with ``train_forward="real"``), so the
refinement fits what libjpeg does and not an approximation of it. There the
terms are log-MSEs, averaged over channels and secrets::

    cover_weight · log MSE(Q(stego), cover)
        + mean_c,k log MSE(reveal(Q(c(Q(stego))), channel = c)_k, secret_k)

because the secret's error after JPEG 75 is several times that after JPEG 90,
and a plain sum would serve JPEG 75 at JPEG 90's expense.
The step size decays on a cosine to zero, so the last steps only polish. Cost:
one reveal forward and backward per step and channel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..distortions import JPEG, Distortion, parse_distortion
from ..errors import UsageError
from ..io import quantize_st
from .base import HidingModel

#: Adam's step on [0, 1] pixels at the start (≈ 0.5 of an 8-bit level), then cosine to 0.
DEFAULT_LR = 2e-3
#: The stego weighs as much as a secret (robust: its decibels as much as the secrets' mean).
DEFAULT_COVER_WEIGHT = 1.0
#: What a robust model's stego is refined for unless told: the PNG a user may keep and the
#: JPEG qualities issue #16 measures (refined for JPEG alone, the PNG's secret fell 9 dB).
ROBUST_CHANNELS = ("round", "jpeg:90", "jpeg:75")


def refine_channels(net: HidingModel, steps: int, refine_for: Sequence[str] | None) -> list[str]:
    """The channel specs a refinement targets; a usage error for what cannot be done.

    A plain model refines for its lossless reveal (``[]``) and takes no
    ``refine_for``; a robust model takes ``refine_for`` or :data:`ROBUST_CHANNELS`.
    """
    if steps < 0:
        raise UsageError(f"refine must be 0 or more steps, got {steps}")
    if not net.conditioned_on_channel:
        if refine_for:
            arch = getattr(net, "architecture", type(net).__name__)
            raise UsageError(f"model {arch!r} is not a robust model: it takes no channel")
        return []
    specs = list(refine_for) if refine_for else list(ROBUST_CHANNELS)
    for spec in specs:
        try:
            parse_distortion(spec)
        except ValueError as exc:
            raise UsageError(f"refine for {spec!r}: {exc}") from None
    return specs


def refine_stego(
    net: HidingModel,
    cover: Tensor,
    secrets: Sequence[Tensor],
    stego: Tensor,
    steps: int,
    *,
    refine_for: Sequence[str] | None = None,
    lr: float = DEFAULT_LR,
    cover_weight: float = DEFAULT_COVER_WEIGHT,
) -> Tensor:
    """``steps`` Adam steps on the stego's pixels (see the module docstring); float, [0, 1]."""
    channels = [_channel(spec) for spec in refine_channels(net, steps, refine_for)]
    if not steps:
        return stego
    x = stego.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        with torch.enable_grad():
            loss = _objective(net, cover, secrets, quantize_st(x), channels, cover_weight)
            (x.grad,) = torch.autograd.grad(loss, [x])
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()


def _objective(
    net: HidingModel,
    cover: Tensor,
    secrets: Sequence[Tensor],
    saved: Tensor,
    channels: Sequence[Distortion],
    cover_weight: float,
) -> Tensor:
    """The module docstring's loss for the 8-bit stego ``saved``."""
    if not channels:  # a plain model: the PNG itself
        revealed = net.reveal(saved, "zeros").secrets
        loss = cover_weight * (saved - cover).pow(2).mean()
        for out, secret in zip(revealed, secrets, strict=True):
            loss = loss + (out - secret).pow(2).mean()
        return loss
    terms = []
    for channel in channels:
        received = quantize_st(channel(saved))
        revealed = net.reveal(received, "zeros", channel=channel).secrets
        terms += [_log_mse(out, secret) for out, secret in zip(revealed, secrets, strict=True)]
    return cover_weight * _log_mse(saved, cover) + torch.stack(terms).mean()


def _log_mse(a: Tensor, b: Tensor) -> Tensor:
    return torch.log((a - b).pow(2).mean().clamp_min(1e-10))


def _channel(spec: str) -> Distortion:
    """The distortion in its training mode; JPEG as the real codec with DiffJPEG's gradient."""
    channel = parse_distortion(spec)
    if isinstance(channel, JPEG):
        channel = JPEG(channel.quality, channel.subsampling, train_forward="real")
    channel.train(True)
    return channel
