"""One contract, every invertible block: exact round trip, log-det, gradients, save/load.

A new block joins all of these checks by being added to ``BLOCKS``.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invimg.inn import (
    RGB_TO_YUV,
    AffineCoupling,
    ChannelPermutation,
    HaarWavelet,
    Inverse,
    InvertibleConv1x1,
    InvertibleModule,
    InvertibleSequential,
    LearnableDownsampling,
    Squeeze,
    conv_factory,
    deepmih_coupling,
    dense_block_factory,
    hinet_coupling,
    irn_coupling,
)

C = 12  # channels of the test inputs


def _randomise(module: torch.nn.Module, std: float = 0.02) -> torch.nn.Module:
    """Give zero-initialised last layers random values so every path is exercised."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * std)
    return module


def _small_dense() -> Callable[[int, int], torch.nn.Module]:
    return dense_block_factory(growth=8, slope=0.2)


BLOCKS: dict[str, Callable[[], InvertibleModule]] = {
    "haar_orthonormal": lambda: HaarWavelet("orthonormal"),
    "haar_mean": lambda: HaarWavelet("mean"),
    "hinet_coupling": lambda: _randomise(hinet_coupling(C, 6, _small_dense())),
    "irn_coupling": lambda: _randomise(irn_coupling(C, 3, _small_dense())),
    "deepmih_coupling": lambda: _randomise(deepmih_coupling(C, 6, _small_dense())),
    "conditional_coupling": lambda: _randomise(
        AffineCoupling(C, 4, conv_factory(16), clamp=1.5, affine_both_halves=True, cond_channels=2)
    ),
    "conv1x1_lu": lambda: _randomise(InvertibleConv1x1(C, seed=3), 0.1),
    "conv1x1_yuv": lambda: InvertibleConv1x1(3, init=RGB_TO_YUV),
    "permutation": lambda: ChannelPermutation(C, seed=2),
    "squeeze": lambda: Squeeze(2),
    "learnable_down_x2": lambda: _randomise(LearnableDownsampling(3, 2), 0.05),
    "inverse_of_haar": lambda: Inverse(HaarWavelet("orthonormal")),
    "sequential": lambda: InvertibleSequential(
        _randomise(hinet_coupling(C, 6, _small_dense())),
        ChannelPermutation(C),
        _randomise(InvertibleConv1x1(C), 0.1),
        _randomise(deepmih_coupling(C, 6, _small_dense())),
    ),
}
CONDITIONAL = {"conditional_coupling"}
CHANNELS = {"conv1x1_yuv": 3, "learnable_down_x2": 3}


def _input(
    name: str, h: int, w: int, dtype: torch.dtype = torch.float32, n: int = 2
) -> tuple[torch.Tensor, torch.Tensor | None]:
    gen = torch.Generator().manual_seed(h * 1000 + w)
    x = torch.randn(n, CHANNELS.get(name, C), h, w, generator=gen, dtype=dtype)
    cond = torch.randn(n, 2, h, w, generator=gen, dtype=dtype) if name in CONDITIONAL else None
    return x, cond


even = st.integers(1, 6).map(lambda k: 2 * k)


@pytest.mark.parametrize("name", sorted(BLOCKS))
@settings(max_examples=5, deadline=None)
@given(h=even, w=even)
def test_round_trip_float32(name: str, h: int, w: int) -> None:
    block = BLOCKS[name]()
    x, cond = _input(name, h, w)
    with torch.no_grad():
        y = block(x, cond)
        assert torch.isfinite(y).all()
        restored = block.inverse(y, cond)
    assert restored.shape == x.shape
    assert (restored - x).abs().max() < 1e-5


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_round_trip_float64(name: str) -> None:
    block = BLOCKS[name]().double()
    x, cond = _input(name, 6, 8, torch.float64)
    with torch.no_grad():
        restored = block.inverse(block(x, cond), cond)
    assert (restored - x).abs().max() < 1e-10


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_log_det_matches_brute_force_jacobian(name: str) -> None:
    block = BLOCKS[name]().double()
    x, cond = _input(name, 2, 2, torch.float64, n=1)
    if name.startswith("haar") or "squeeze" in name or "inverse" in name or "down" in name:
        x, cond = _input(name, 2, 2, torch.float64, n=1)

    def flat(v: torch.Tensor) -> torch.Tensor:
        return block(v.reshape(x.shape), cond).reshape(-1)

    jac = torch.autograd.functional.jacobian(flat, x.reshape(-1))
    expected = torch.linalg.slogdet(jac).logabsdet
    y, log_det = block.forward_and_log_det(x, cond)
    assert log_det.shape == (1,)
    assert torch.allclose(log_det[0], expected, atol=1e-8)
    _, inv_log_det = block.inverse_and_log_det(y, cond)
    assert torch.allclose(inv_log_det, -log_det, atol=1e-8)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_every_parameter_gets_a_gradient(name: str) -> None:
    block = BLOCKS[name]()
    x, cond = _input(name, 4, 4)
    x.requires_grad_()
    y, log_det = block.forward_and_log_det(x, cond)
    (y.square().mean() + log_det.mean()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, p in block.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} received a zero gradient"


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_save_load_and_train_eval_agree(name: str) -> None:
    block = BLOCKS[name]()
    x, cond = _input(name, 4, 6)
    buffer = io.BytesIO()
    torch.save(block.state_dict(), buffer)
    twin = BLOCKS[name]()
    _randomise(twin, 0.5)
    twin.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    with torch.no_grad():
        out_train = block.train()(x, cond)
        out_eval = twin.eval()(x, cond)
    assert torch.equal(out_train, out_eval)


def test_sixteen_block_composition_round_trip() -> None:
    chain = InvertibleSequential(
        *[
            _randomise(hinet_coupling(24, 12, dense_block_factory(growth=8)), 0.01)
            for _ in range(16)
        ]
    )
    model = InvertibleSequential(HaarWavelet(), chain, Inverse(HaarWavelet()))
    x = torch.rand(2, 6, 32, 48)
    with torch.no_grad():
        restored = model.inverse(model(x))
    assert (restored - x).abs().max() < 1e-5


def test_haar_conventions_match_the_published_definitions() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    a, b, c, d = x[..., 0::2, 0::2], x[..., 1::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 1::2]
    hinet = HaarWavelet("orthonormal")(x)
    assert torch.equal(hinet[:, 0:1], (a + b + c + d) / 2)
    assert torch.equal(hinet[:, 1:2], (-a - b + c + d) / 2)
    assert torch.equal(hinet[:, 2:3], (-a + b - c + d) / 2)
    irn = HaarWavelet("mean")(x)
    assert torch.equal(irn[:, 0:1], (a + b + c + d) / 4)  # the 2×2 mean: a thumbnail
    assert torch.equal(irn[:, 1:2], (a + b - c - d) / 4)


def test_band_major_layout_puts_all_low_pass_channels_first() -> None:
    x = torch.rand(1, 3, 4, 4)
    y = HaarWavelet("mean")(x)
    assert torch.allclose(y[:, :3], torch.nn.functional.avg_pool2d(x, 2))


def test_learnable_downsampling_starts_as_box_filter_for_any_factor() -> None:
    x = torch.rand(1, 3, 9, 12)
    y = LearnableDownsampling(3, 3)(x)
    assert y.shape == (1, 27, 3, 4)
    assert torch.allclose(y[:, :3], torch.nn.functional.avg_pool2d(x, 3), atol=1e-6)


def test_odd_sizes_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="even"):
        HaarWavelet()(torch.rand(1, 3, 5, 4))


def test_conditional_coupling_requires_its_condition() -> None:
    block = BLOCKS["conditional_coupling"]()
    with pytest.raises(ValueError, match="cond"):
        block(torch.rand(1, C, 4, 4))


def test_sequential_reports_output_shape_at_build_time() -> None:
    model = InvertibleSequential(HaarWavelet(), Squeeze(2))
    assert model.output_shape((3, 16, 8)) == (48, 4, 2)
