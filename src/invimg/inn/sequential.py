"""Sequential composition of invertible blocks, with optional memory saving."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import InvertibleModule, LogDet
from .memory_saving import memory_saving_chain


class InvertibleSequential(InvertibleModule):
    """Blocks applied in order; the inverse applies their inverses in reverse.

    With ``memory_saving=True`` training stores no activations inside the
    chain: the backward pass rebuilds each block's input from its output (see
    :mod:`invimg.inn.memory_saving`). Gradients equal ordinary autograd's up to
    float round-off. Blocks with BatchNorm, Dropout or other state that differs
    between two calls are not supported in that mode (recomputation would
    differ from the original pass).
    """

    def __init__(self, *blocks: InvertibleModule, memory_saving: bool = False) -> None:
        super().__init__()
        for b in blocks:
            if not isinstance(b, InvertibleModule):
                raise TypeError(f"{type(b).__name__} is not an InvertibleModule")
        self.blocks = torch.nn.ModuleList(blocks)
        self.memory_saving = memory_saving

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> InvertibleModule:
        return self.blocks[i]  # type: ignore[return-value]

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, LogDet]:
        blocks: list[InvertibleModule] = list(self.blocks)  # type: ignore[arg-type]
        if reverse:
            blocks.reverse()
        if self.memory_saving and not reverse and torch.is_grad_enabled():
            y, chain_log_det = memory_saving_chain(blocks, x, cond, need_log_det)
            return y, (chain_log_det if need_log_det else None)
        total = x.new_zeros(x.shape[0]) if need_log_det else None
        for block in blocks:
            x, log_det = block._transform(x, cond, reverse=reverse, need_log_det=need_log_det)
            if total is not None and log_det is not None:
                total = total + log_det
        return x, total

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        for block in self.blocks:
            assert isinstance(block, InvertibleModule)
            input_shape = block.output_shape(input_shape)
        return input_shape
