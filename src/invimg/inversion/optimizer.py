"""Find x* = argmin E(x): the published optimisers of Mahendran & Vedaldi, as presets.

``ijcv2016`` (default; ``nnpreimage.m`` with ``get_defaults.m`` and
``get_preimage_opts.m``, IJCV 2016 §4):

* x starts as uniform noise whose 95th percentile is B/√3;
* momentum 0.9 with an AdaGrad-style scaling of each pixel's step:
  ``G ← 0.9·G + g²;  v ← 0.9·v − g / (1/η + √G);  x ← x + v``, with
  ``η = H·W · 0.05·B²/α`` (the priors are averages over pixels, so the step
  is scaled back by the pixel count);
* after each step every pixel's RGB norm is clamped to 2B;
* 300 iterations on a canvas larger than the image by the jitter
  J = max(round(stride/4), 1) pixels, Φ seeing a random H×W window of it at
  each iteration, then 50 iterations at η/10 without jitter, starting again
  (momentum and G reset) from the centre of the canvas.

``cvpr2015`` (``invert_nn.m`` as run by ``experiment_shallow_quantitative.m``,
the settings behind the CVPR HOG/DSIFT figures): plain momentum 0.9,
``v ← 0.9·v − η_t·∇(x0σ²·E)``, η_t = 0.004 × (1, 0.1, 0.01, 0.001) for 200
iterations each (momentum reset at each change), λTV = 1 (β = 2),
λ6 = 8·10⁻¹⁰ (both halved in the code), priors summed over pixels, x
started as Gaussian noise of norm x0σ, no clamp, no jitter. x0σ is the
average norm of the published training images (27098.1 for 227×227×3, i.e.
68.9 a value); we scale it to the input's size, 68.9·√(C·H·W).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from .objective import TV_EPS, B, Energy, V, feature_loss
from .representation import Representation

#: x0σ per value of the CVPR 2015 code: 27098.1 / √(227·227·3).
CVPR_SIGMA_PER_VALUE = 27098.11571533 / math.sqrt(227 * 227 * 3)


@dataclass(frozen=True)
class Phase:
    """A run of iterations at one step size, with or without jitter."""

    iterations: int
    learning_rate: float
    jitter: bool = True


@dataclass(frozen=True)
class Preset:
    """Everything that defines one published optimisation (see the module docstring)."""

    name: str
    phases: tuple[Phase, ...]
    loss_weight: float = 100.0
    alpha: float = 6.0
    beta: float = 2.0
    #: IJCV: the priors average over pixels and use each pixel's RGB norm; steps are AdaGrad.
    ijcv: bool = True
    momentum: float = 0.9
    #: A pixel's RGB norm is clamped to this after each step (None: no clamp).
    bound: float | None = 2 * B
    #: CVPR prior weights (the IJCV ones follow from B, V, α, β).
    cvpr_lambda_alpha: float = 8e-10 / 2
    cvpr_lambda_tv: float = 1.0 / 2

    def energy(self, values_per_image: int) -> Energy:
        """The weights of E for an image of ``values_per_image`` values (C·H·W)."""
        if self.ijcv:
            lambdas = (B**-self.alpha, V**-self.beta)
            return Energy(self.loss_weight, self.alpha, self.beta, *lambdas, per_pixel=True)
        sigma2 = CVPR_SIGMA_PER_VALUE**2 * values_per_image
        lambdas = (self.cvpr_lambda_alpha, self.cvpr_lambda_tv)
        return Energy(sigma2 * self.loss_weight, self.alpha, self.beta, *lambdas, per_pixel=False)

    def scaled(self, factor: float) -> Preset:
        """The same preset with every phase's iteration count multiplied by ``factor``."""
        phases = tuple(
            dataclasses.replace(p, iterations=max(1, round(p.iterations * factor)))
            for p in self.phases
        )
        return dataclasses.replace(self, phases=phases)

    @property
    def iterations(self) -> int:
        return sum(p.iterations for p in self.phases)


_IJCV_LR = 0.05 * B**2 / 6
PRESETS: dict[str, Preset] = {
    "ijcv2016": Preset(
        "ijcv2016", (Phase(300, _IJCV_LR, jitter=True), Phase(50, 0.1 * _IJCV_LR, jitter=False))
    ),
    "cvpr2015": Preset(
        "cvpr2015",
        tuple(Phase(200, 0.004 * f, jitter=False) for f in (1, 0.1, 0.01, 0.001)),
        loss_weight=1.0,
        ijcv=False,
        bound=None,
    ),
}

#: Called after every iteration with (iteration, per-image feature loss ℓ/‖Φ0‖²).
Callback = Callable[[int, Tensor], None]


@dataclass
class Result:
    """A reconstruction: images in [0, 1] units (not clipped) and how well they fit."""

    images: Tensor
    #: Per image ‖Φ(x*) − Φ0‖² / ‖Φ0‖² at the last iteration (before any saving).
    loss: Tensor
    #: Per iteration: the mean over images of the energy's three terms.
    history: list[tuple[float, float]]


def initial_image(shape: tuple[int, ...], preset: Preset, generator: torch.Generator) -> Tensor:
    """The published starting noise (IJCV: uniform; CVPR: Gaussian of norm x0σ), centred units."""
    if preset.ijcv:
        noise = 2 * torch.rand(shape, generator=generator) - 1
        q95 = torch.quantile(noise.flatten(1), 0.95, dim=1).view(-1, *([1] * (len(shape) - 1)))
        return noise / q95 * (B / math.sqrt(3))
    noise = torch.randn(shape, generator=generator)
    norms = noise.flatten(1).norm(dim=1).view(-1, *([1] * (len(shape) - 1)))
    return noise / norms * CVPR_SIGMA_PER_VALUE * math.sqrt(math.prod(shape[1:]))


def reconstruct(
    rep: Representation,
    target: Tensor,
    size: tuple[int, int],
    preset: Preset = PRESETS["ijcv2016"],
    *,
    init: Tensor | None = None,
    seed: int = 0,
    progress: bool = False,
    callback: Callback | None = None,
) -> Result:
    """Invert ``target`` = Φ0 (a batch of N feature tensors) into N images of ``size`` (H, W).

    ``init``: starting images ``(N, C, H, W)`` in [0, 1] instead of noise.
    The result is in [0, 1] units, not clipped; see :func:`invimg.inversion.api.to_pixels`.
    """
    run = _Run(rep, target, size, preset, seed, callback)
    x = None if init is None else init.to(target.device) * 255 - run.centre
    with tqdm(total=preset.iterations, desc="inverting", unit="it", disable=not progress) as bar:
        for phase in preset.phases:
            x = run.phase(phase, x, bar)
    assert x is not None
    return Result(images=(x + run.centre) / 255, loss=run.loss.cpu(), history=run.history)


class _Run:
    """The state shared by the phases of one reconstruction."""

    def __init__(
        self,
        rep: Representation,
        target: Tensor,
        size: tuple[int, int],
        preset: Preset,
        seed: int,
        callback: Callback | None,
    ) -> None:
        self.rep, self.target, self.size, self.preset = rep, target, size, preset
        self.callback = callback
        self.generator = torch.Generator().manual_seed(seed)
        centre = 255 * torch.tensor(rep.centre, dtype=torch.float32).view(1, -1, 1, 1)
        self.centre = centre.to(target.device)
        self.energy = preset.energy(rep.in_channels * size[0] * size[1])
        self.history: list[tuple[float, float]] = []
        self.loss = torch.zeros(target.shape[0])
        self.step = 0

    def canvas(self, x: Tensor | None, jitter: int) -> Tensor:
        """The field optimised: ``x`` at the centre of one ``jitter − 1`` pixels larger.

        Without ``x``, noise over the whole field, as the published code.
        """
        height, width = self.size
        if x is None:
            n, channels = self.target.shape[0], self.rep.in_channels
            shape = (n, channels, height + jitter - 1, width + jitter - 1)
            return initial_image(shape, self.preset, self.generator).to(self.target.device)
        if jitter == 1:
            return x.clone()
        canvas = x.new_zeros(*x.shape[:-2], height + jitter - 1, width + jitter - 1)
        offset = (jitter - 1) // 2
        canvas[..., offset : offset + height, offset : offset + width] = x
        return canvas

    def phase(self, phase: Phase, x: Tensor | None, bar: tqdm[Any]) -> Tensor:
        """Run one phase from ``x`` (centred units); return the image at the field's centre."""
        jitter = self.rep.jitter() if phase.jitter else 1
        canvas = self.canvas(x, jitter)
        velocity, g_sum = torch.zeros_like(canvas), torch.zeros_like(canvas)
        height, width = self.size
        lr = phase.learning_rate * (height * width if self.preset.ijcv else 1)
        for _ in range(phase.iterations):
            grad = self.gradient(canvas, jitter)
            _step(canvas, grad, velocity, g_sum, lr, self.preset)
            bar.update(1)
            if self.callback is not None:
                self.callback(self.step, self.loss)
            self.step += 1
        offset = (jitter - 1) // 2
        return canvas[..., offset : offset + height, offset : offset + width]

    def gradient(self, canvas: Tensor, jitter: int) -> Tensor:
        """∇E at ``canvas``, Φ seeing a random window of it; records the loss terms."""
        height, width = self.size
        oy, ox = torch.randint(jitter, (2,), generator=self.generator).tolist()
        field = canvas.detach().requires_grad_(True)
        window = field[..., oy : oy + height, ox : ox + width]
        loss = feature_loss(self.rep((window + self.centre) / 255), self.target)
        priors = self.energy.priors(field)
        total = (self.energy.loss_weight * loss + priors).sum()
        (grad,) = torch.autograd.grad(total, field)
        self.loss = loss.detach()
        self.history.append((float(self.loss.mean()), float(priors.detach().mean())))
        return grad


@torch.no_grad()
def _step(
    x: Tensor, grad: Tensor, velocity: Tensor, g_sum: Tensor, lr: float, preset: Preset
) -> None:
    """One in-place update of ``x`` (see the module docstring), then the pixel-norm clamp."""
    m = preset.momentum
    if preset.ijcv:
        g_sum.mul_(m).addcmul_(grad, grad)
        velocity.mul_(m).sub_(grad / (1 / lr + g_sum.sqrt()))
    else:
        velocity.mul_(m).sub_(grad, alpha=lr)
    x.add_(velocity)
    if preset.bound is not None:
        norm = x.pow(2).sum(1, keepdim=True).sqrt().clamp_min(TV_EPS)
        x.mul_((preset.bound / norm).clamp(max=1.0))


__all__ = ["PRESETS", "Phase", "Preset", "Result", "initial_image", "reconstruct"]
