"""The ``datahiding`` training task: Steg-cINN in two stages, as published.

Recipe sections (see ``training/recipes/steg-cinn*.yaml``)::

    task: datahiding
    model: {blocks1: 3, blocks2: 3, hidden1: 32, ...}     # fields of StegCINN.Config
    loss:  {robust: 25, gamut: 10, robust_from: 1000, ramp: 200, huber: 1,
            boost: 4, boost_from: 1400}

Stage 1 (steps before ``loss.robust_from``) fits the colour model: the
negative log-likelihood of the crop's ``ab`` given its ``L`` (nats per value).

Stage 2 adds what makes extraction exact. A latent ``ε ~ N(0, I)`` is turned
into colour with the cover's ``L``; the stego ``(L, ab)`` goes to sRGB, is
clipped and rounded to 8 bits (straight-through), converted back, and the
receiver's latent ``ε'`` is computed with the *stego's* ``L'`` as condition,
exactly as extraction will. The loss adds ``robust · Huber(ε' − ε)`` and
``gamut · mean(excess outside [0, 1])`` (computed on ``ab`` clamped to
±110, plus the relative overflow beyond it, so that no gradient explodes
through the cube in Lab → sRGB), both weights ramped up linearly
over ``ramp`` steps. Why this weighting works: a flow
trades likelihood (``log`` of its scale per value) against the latent noise
(``1 / scale²``); at the optimum the latent noise variance is about
``1 / (2 · robust)``, so ``robust = 25`` aims at a noise std of ≈ 0.14, where
sign errors are ≈ 4 % and the repetition + Reed–Solomon code of
:mod:`invimg.datahiding.ecc` corrects them with a wide margin.

Stage 3 (from ``loss.boost_from``) multiplies both stage-2 weights by
``loss.boost``: measured on held-out crops, ``robust = 25`` left raw sign
error rates of 7–16 %, too many for the 0.5 bit-per-pixel code on dark or
very colourful photos; a larger weight trades more colour naturalness for
robustness.

Validation (and the training log in stage 2) reports the NLL, the raw bit
error rate of latent signs after 8-bit rounding (``ber``), the latent noise
std (``noise``) and the fraction of clipped values (``clipped``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..io import quantize_st
from ..training import TrainConfig, register_task
from ..training.config import build_section, check_crops
from ..training.distributed import unwrap
from .color import AB_LIMIT, gamut_excess, lab_to_rgb, limit_ab, rgb_to_lab
from .model import SIZE_MULTIPLE, StegCINN


@dataclass
class StegLossConfig:
    """Weights of the two-stage loss (see the module docstring)."""

    nll: float = 1.0
    robust: float = 25.0
    gamut: float = 10.0
    robust_from: int = 0
    #: Steps over which the stage-2 weights grow from 0 to their value (a smooth switch).
    ramp: int = 200
    huber: float = 1.0
    #: From step ``boost_from`` the stage-2 weights are multiplied by ``boost`` (ramped
    #: over ``ramp`` steps too): a third stage that buys sign robustness with colour.
    boost: float = 1.0
    boost_from: int | None = None

    def stage2_weight(self, step: int) -> float:
        """How much of the stage-2 terms counts at ``step`` (0 in stage 1)."""
        if step < self.robust_from:
            return 0.0
        weight = _ramp(step - self.robust_from, self.ramp)
        if self.boost_from is not None and step >= self.boost_from:
            weight *= 1 + (self.boost - 1) * _ramp(step - self.boost_from, self.ramp)
        return weight


def _ramp(steps_in: int, ramp: int) -> float:
    return min(1.0, (steps_in + 1) / max(1, ramp))


@dataclass
class RoundTrip:
    """What the receiver gets back from one generated stego."""

    latent: Tensor
    received: Tensor
    rgb_unclipped: Tensor
    stego: Tensor
    #: How far the generated ``ab`` went beyond ±AB_LIMIT (relative), per value.
    ab_overflow: Tensor

    def gamut_penalty(self) -> Tensor:
        """Mean excess outside the sRGB cube plus mean ``ab`` overflow: bounded gradients."""
        return gamut_excess(self.rgb_unclipped).mean() + self.ab_overflow.mean()


def split_lab(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """``(L, ab)`` of an sRGB batch."""
    lab = rgb_to_lab(rgb)
    return lab[:, :1], lab[:, 1:]


def likelihood(net: StegCINN, lightness: Tensor, ab: Tensor) -> Tensor:
    """Negative log-likelihood of ``ab`` given ``L``, nats per value (without the 2π term)."""
    z, log_det = net.run(ab, net.condition(lightness), lightness, need_log_det=True)
    assert log_det is not None
    per_sample = 0.5 * z.pow(2).flatten(1).sum(1) - log_det
    return per_sample.mean() / z[0].numel()


def round_trip(
    net: StegCINN, lightness: Tensor, latent: Tensor, quantize: bool = True
) -> RoundTrip:
    """Embed ``latent`` with the cover's ``L``, store it as 8-bit RGB, read it back with ``L'``."""
    ab = net.run(latent, net.condition(lightness), lightness, reverse=True)[0]
    rgb = lab_to_rgb(torch.cat((lightness, limit_ab(ab)), 1))
    stego = quantize_st(rgb) if quantize else rgb.clamp(0, 1)
    received_l, received_ab = split_lab(stego)
    received = net.run(received_ab, net.condition(received_l), received_l)[0]
    overflow = (ab.abs() - AB_LIMIT).clamp_min(0) / AB_LIMIT
    return RoundTrip(latent, received, rgb, stego, overflow)


def bit_error_rate(trip: RoundTrip) -> float:
    """Fraction of latent signs that changed on the way through the 8-bit stego."""
    return float((torch.sign(trip.received) != torch.sign(trip.latent)).float().mean())


class DataHidingTask:
    """Implements :class:`invimg.training.TrainingTask` for Steg-cINN."""

    def __init__(self, config: TrainConfig) -> None:
        model = dict(config.model)
        model.pop("architecture", None)
        self.model_config: StegCINN.Config = build_section(StegCINN.Config, model, "model.")
        self.loss = build_section(StegLossConfig, dict(config.loss), "loss.")
        check_crops(config.data, SIZE_MULTIPLE)

    def build_model(self) -> nn.Module:
        try:
            return StegCINN(self.model_config)
        except ValueError as exc:
            raise ConfigError(f"model: {exc}") from None

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        net = unwrap(model)
        assert isinstance(net, StegCINN)
        lightness, ab = split_lab(batch.float())
        nll = likelihood(net, lightness, ab)
        loss = self.loss.nll * nll
        terms: dict[str, float] = {"nll": float(nll.detach())}
        if step >= self.loss.robust_from:
            latent = torch.randn(ab.shape[0], *net.output_shape(tuple(ab.shape[1:])))
            trip = round_trip(net, lightness, latent.to(ab))
            robust = F.huber_loss(trip.received, trip.latent, delta=self.loss.huber)
            gamut = trip.gamut_penalty()
            weight = self.loss.stage2_weight(step)
            loss = loss + weight * (self.loss.robust * robust + self.loss.gamut * gamut)
            terms.update(robust=float(robust.detach()), gamut=float(gamut.detach()))
            terms["ber"] = bit_error_rate(trip)
        return loss, terms

    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        net = unwrap(model)
        assert isinstance(net, StegCINN)
        batch = batch[..., : _floor(batch.shape[-2]), : _floor(batch.shape[-1])].float()
        lightness, ab = split_lab(batch)
        latent = torch.randn(ab.shape[0], *net.output_shape(tuple(ab.shape[1:])))
        trip = round_trip(net, lightness, latent.to(ab))
        return {
            "nll": float(likelihood(net, lightness, ab)),
            "ber": bit_error_rate(trip),
            "noise": float((trip.received - trip.latent).std()),
            "clipped": float((gamut_excess(trip.rgb_unclipped) > 0).float().mean()),
        }


def _floor(n: int) -> int:
    return n - n % SIZE_MULTIPLE


@register_task("datahiding")
def make_datahiding_task(config: TrainConfig) -> DataHidingTask:
    """Factory registered with the trainer under the name ``datahiding``."""
    return DataHidingTask(config)
