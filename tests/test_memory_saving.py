"""Memory-saving backpropagation must give the gradients of ordinary autograd."""

from __future__ import annotations

import pytest
import torch

from invimg.inn import (
    AffineCoupling,
    ChannelPermutation,
    HaarWavelet,
    InvertibleConv1x1,
    InvertibleSequential,
    conv_factory,
    deepmih_coupling,
    dense_block_factory,
    hinet_coupling,
)


def _blocks(conditional: bool) -> list:
    torch.manual_seed(3)
    fac = dense_block_factory(growth=8)
    blocks = [hinet_coupling(24, 12, fac) for _ in range(3)]
    blocks += [deepmih_coupling(24, 12, fac), ChannelPermutation(24), InvertibleConv1x1(24)]
    if conditional:
        blocks.append(
            AffineCoupling(24, 8, conv_factory(16), cond_channels=3, affine_both_halves=True)
        )
    with torch.no_grad():
        for b in blocks:
            for p in b.parameters():
                p.add_(torch.randn_like(p) * 0.01)
    return blocks


def _grads(
    model: InvertibleSequential, x: torch.Tensor, cond: torch.Tensor | None, use_log_det: bool
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor | None]:
    model.zero_grad()
    x = x.clone().requires_grad_()
    c = cond.clone().requires_grad_() if cond is not None else None
    y, log_det = model.forward_and_log_det(x, c)
    loss = (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum() + y.square().mean()
    if use_log_det:
        loss = loss + log_det.sum()
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    return grads, x.grad.clone(), (c.grad.clone() if c is not None else None)


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("use_log_det", [False, True])
def test_gradients_equal_ordinary_autograd(conditional: bool, use_log_det: bool) -> None:
    blocks = _blocks(conditional)
    plain = InvertibleSequential(*blocks)
    saving = InvertibleSequential(*blocks, memory_saving=True)
    x = torch.randn(2, 24, 8, 8)
    cond = torch.randn(2, 3, 8, 8) if conditional else None
    g_plain, gx_plain, gc_plain = _grads(plain, x, cond, use_log_det)
    g_save, gx_save, gc_save = _grads(saving, x, cond, use_log_det)
    assert (gx_plain - gx_save).abs().max() < 1e-5
    for a, b in zip(g_plain, g_save):
        assert (a - b).abs().max() <= 1e-5 * max(1.0, a.abs().max().item())
    if conditional:
        assert gc_plain is not None and gc_save is not None
        assert (gc_plain - gc_save).abs().max() < 1e-5


def test_memory_saving_output_equals_plain_output() -> None:
    blocks = _blocks(False)
    x = torch.randn(1, 24, 8, 8, requires_grad=True)
    y_plain = InvertibleSequential(*blocks)(x)
    y_save = InvertibleSequential(*blocks, memory_saving=True)(x)
    assert torch.equal(y_plain, y_save)


def test_memory_saving_inside_a_larger_model_with_fixed_transforms() -> None:
    blocks = _blocks(False)
    wrapped = InvertibleSequential(HaarWavelet(), InvertibleSequential(*blocks, memory_saving=True))
    plain = InvertibleSequential(HaarWavelet(), InvertibleSequential(*blocks))
    x = torch.rand(1, 6, 16, 16)
    g1, _, _ = _grads(wrapped, x, None, False)
    g2, _, _ = _grads(plain, x, None, False)
    for a, b in zip(g1, g2):
        assert (a - b).abs().max() <= 1e-5 * max(1.0, a.abs().max().item())
