"""Memory-saving backpropagation through a chain of invertible blocks.

Ordinary autograd keeps every intermediate activation of every sub-network
until the backward pass. An invertible chain does not need them: its input can
be recomputed exactly from its output. :func:`memory_saving_chain` runs the
chain without a graph, keeps only the final output, and during the backward
pass walks the blocks in reverse, rebuilding each block's input (see
``InvertibleModule.backward_from_output``) and back-propagating through that
one block. Activation memory is then that of one block, whatever the depth.

Parameters are passed to the autograd Function as inputs and their gradients
returned normally, so hooks (DDP's gradient all-reduce) fire as usual.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import InvertibleModule


class _ReversibleChain(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        blocks: list[InvertibleModule],
        need_log_det: bool,
        x: Tensor,
        cond: Tensor | None,
        *params: Tensor,
    ) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            total = x.new_zeros(x.shape[0])
            for block in blocks:
                x, log_det = block._transform(x, cond, reverse=False, need_log_det=need_log_det)
                if log_det is not None:
                    total = total + log_det
        ctx.blocks, ctx.need_log_det, ctx.params = blocks, need_log_det, params
        ctx.save_for_backward(x, cond)
        return x, total

    @staticmethod
    def backward(ctx: Any, grad_y: Tensor, grad_log_det: Tensor) -> tuple[Tensor | None, ...]:
        y, cond = ctx.saved_tensors
        grad_ld = grad_log_det if ctx.need_log_det else None
        index = {id(p): i for i, p in enumerate(ctx.params)}
        param_grads: list[Tensor | None] = [None] * len(ctx.params)
        grad_cond: Tensor | None = None
        for block in reversed(ctx.blocks):
            result = block.backward_from_output(y.detach(), cond, grad_y, grad_ld)
            y, grad_y = result.x, result.grad_x
            if result.grad_cond is not None:
                grad_cond = result.grad_cond if grad_cond is None else grad_cond + result.grad_cond
            for p, g in result.param_grads:
                i = index[id(p)]
                if g is not None:
                    param_grads[i] = g if param_grads[i] is None else param_grads[i] + g
        return (None, None, grad_y, grad_cond, *param_grads)


def memory_saving_chain(
    blocks: list[InvertibleModule], x: Tensor, cond: Tensor | None, need_log_det: bool
) -> tuple[Tensor, Tensor]:
    """Apply ``blocks`` in order, storing only the output for the backward pass."""
    seen: set[int] = set()
    params = []
    for block in blocks:
        for p in block.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    y, log_det = _ReversibleChain.apply(blocks, need_log_det, x, cond, *params)
    return y, log_det
