"""The one contract every invertible block follows.

A block maps ``x`` to ``y`` and back exactly. Subclasses implement
:meth:`InvertibleModule._transform`, which returns the output and, when asked,
the per-sample log-determinant. Sign convention (as FrEIA): the forward pass
reports ``log|det dy/dx|`` and the inverse pass reports ``log|det dx/dy|``,
i.e. the negative of the forward value at the matching point.

An optional conditioning tensor ``cond`` is passed to every block; blocks that
take no condition ignore it, so a conditional network is simply a sequence
in which some blocks use it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn

LogDet = Tensor | None


@dataclass
class BackwardResult:
    """What memory-saving backpropagation needs from one block."""

    x: Tensor
    grad_x: Tensor
    grad_cond: Tensor | None
    param_grads: list[tuple[nn.Parameter, Tensor | None]]


class InvertibleModule(nn.Module, ABC):
    """Base class of invertible blocks: ``forward`` and ``inverse`` are exact inverses."""

    @abstractmethod
    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        """Map ``x`` forward (or backward when ``reverse``); log-det per sample if asked."""

    def forward(self, x: Tensor, cond: Tensor | None = None, rev: bool = False) -> Tensor:
        """``rev=True`` runs the inverse: one entry point, so DDP sees both passes
        of a model trained in both directions (IRN, Steg-cINN)."""
        return self._transform(x, cond, reverse=rev, need_log_det=False)[0]

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        """Exact inverse of :meth:`forward`."""
        return self._transform(y, cond, reverse=True, need_log_det=False)[0]

    def forward_and_log_det(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Forward pass and ``log|det dy/dx|`` per sample (shape ``[N]``)."""
        y, log_det = self._transform(x, cond, reverse=False, need_log_det=True)
        return y, _as_per_sample(log_det, x)

    def inverse_and_log_det(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Inverse pass and ``log|det dx/dy|`` per sample (the negative of the forward's)."""
        x, log_det = self._transform(y, cond, reverse=True, need_log_det=True)
        return x, _as_per_sample(log_det, y)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward``'s output for an input of ``input_shape`` (C, H, W).

        The default says the shape is unchanged; blocks that move pixels into
        channels override it so containers can check shapes at build time.
        """
        return input_shape

    def backward_from_output(
        self, y: Tensor, cond: Tensor | None, grad_y: Tensor, grad_log_det: Tensor | None
    ) -> BackwardResult:
        """Rebuild this block's input from its output and back-propagate through it.

        Used by memory-saving backpropagation, which keeps no activations: the
        input is recomputed with :meth:`inverse`, then the block is run forward
        again with autograd on to get the gradients. Couplings override this
        with a fused version that evaluates each sub-network only once.
        """
        with torch.no_grad():
            x = self._transform(y, cond, reverse=True, need_log_det=False)[0]
        with torch.enable_grad():
            x_leaf = x.detach().requires_grad_()
            cond_leaf = _grad_leaf(cond)
            y_re, log_det = self._transform(
                x_leaf, cond_leaf, reverse=False, need_log_det=grad_log_det is not None
            )
            outputs, grads = [y_re], [grad_y]
            if grad_log_det is not None and log_det is not None:
                outputs.append(_as_per_sample(log_det, x_leaf))
                grads.append(grad_log_det)
            return backprop(self, outputs, grads, x_leaf, cond_leaf, x)


class Inverse(InvertibleModule):
    """Swaps the directions of a block: ``Inverse(m).forward == m.inverse``."""

    def __init__(self, module: InvertibleModule) -> None:
        super().__init__()
        self.module = module

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        return self.module._transform(x, cond, reverse=not reverse, need_log_det=need_log_det)


def zero_log_det(x: Tensor) -> Tensor:
    """A per-sample zero log-determinant on ``x``'s device and dtype."""
    return x.new_zeros(x.shape[0])


def _as_per_sample(log_det: LogDet, ref: Tensor) -> Tensor:
    if log_det is None:
        return zero_log_det(ref)
    if log_det.dim() == 0:
        return log_det.expand(ref.shape[0]).clone()
    return log_det


def sum_per_sample(t: Tensor) -> Tensor:
    """Sum over every dimension but the batch: the usual per-sample reduction."""
    return t.flatten(1).sum(dim=1)


def is_invertible(
    module: InvertibleModule, x: Tensor, cond: Tensor | None = None, atol: float = 1e-5
) -> bool:
    """Self-check: does ``inverse(forward(x))`` give back ``x`` within ``atol``?"""
    with torch.no_grad():
        restored = module.inverse(module.forward(x, cond), cond)
    return bool((restored - x).abs().max() <= atol)


def _grad_leaf(t: Tensor | None) -> Tensor | None:
    """A detached copy that records gradients, if the original needs them."""
    if t is None or not t.requires_grad:
        return None if t is None else t.detach()
    return t.detach().requires_grad_()


def backprop(
    module: nn.Module,
    outputs: list[Tensor],
    grads: list[Tensor],
    x_leaf: Tensor,
    cond_leaf: Tensor | None,
    x_value: Tensor,
) -> BackwardResult:
    """Gradients of ``outputs`` w.r.t. the input leaf, the condition and the parameters."""
    params = [p for p in module.parameters() if p.requires_grad]
    wants_cond = cond_leaf is not None and cond_leaf.requires_grad
    inputs: list[Tensor] = [x_leaf, *params]
    if cond_leaf is not None and cond_leaf.requires_grad:
        inputs.insert(1, cond_leaf)
    got = torch.autograd.grad(outputs, inputs, grads, allow_unused=True)
    grad_x = got[0] if got[0] is not None else torch.zeros_like(x_leaf)
    grad_cond = got[1] if wants_cond else None
    return BackwardResult(x_value, grad_x, grad_cond, list(zip(params, got[1 + wants_cond :])))
