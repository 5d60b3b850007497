"""invimg.tiling: padding to a multiple, tile planning, and tiled runs at any output scale.

Hiding runs several same-size images to same-size outputs; rescaling runs one
image to an output ``s ×`` or ``1/s ×`` its size. Both must stitch to exactly
what one-piece processing gives when the margin covers the receptive field.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from invimg.rescaling import IRN
from invimg.rescaling.irn import receptive_radius
from invimg.tiling import pad_to_multiple, plan_tiles, run_tiled
from test_rescaling_model import randomise


def test_pad_to_multiple_reflects_and_handles_one_pixel() -> None:
    x = torch.arange(3.0).reshape(1, 1, 1, 3)
    padded = pad_to_multiple(x, 2, mode="reflect")
    assert padded.shape == (1, 1, 2, 4)
    assert padded[0, 0, 0].tolist() == [0.0, 1.0, 2.0, 2.0]  # 1-pixel side: replicated


def test_pad_to_multiple_modes() -> None:
    x = torch.arange(35.0).reshape(1, 1, 5, 7)
    reflected = pad_to_multiple(x, 4, mode="reflect")
    replicated = pad_to_multiple(x, 4, mode="replicate")
    assert reflected.shape == replicated.shape == (1, 1, 8, 8)
    assert reflected[0, 0, 5:, 0].tolist() == [21.0, 14.0, 7.0]  # rows 3, 2, 1: mirrored
    assert replicated[0, 0, 5:, 0].tolist() == [28.0] * 3  # row 4 repeated
    assert torch.equal(reflected[..., :5, 7], x[..., 5])  # column 5 mirrored
    assert torch.equal(replicated[..., :5, 7], x[..., 6])  # column 6 repeated
    assert pad_to_multiple(x, 1, mode="reflect") is x  # nothing to do: no copy


def test_plan_tiles_covers_every_pixel_once() -> None:
    seen = torch.zeros(11, 9, dtype=torch.int32)
    for t in plan_tiles(11, 9, tile=4, margin=2):
        seen[t.core] += 1
        assert t.ext[0].start <= t.core[0].start and t.ext[1].stop >= t.core[1].stop
    assert bool((seen == 1).all())


def test_run_tiled_covers_every_pixel() -> None:
    x = torch.arange(2 * 10 * 14, dtype=torch.float32).reshape(1, 2, 10, 14)
    (out,) = run_tiled(lambda ims: [ims[0] * 2], [x], tile=4, margin=2, multiple=2)
    assert torch.equal(out, x * 2)


def test_several_inputs_to_several_outputs_match_one_piece() -> None:
    """Hiding's shape of call: a 3×3 convolution of the inputs' sum, and their difference."""
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.rand(1, 3, 22, 30, generator=gen, dtype=torch.float64) for _ in range(2))
    weight = torch.rand(2, 3, 3, 3, generator=gen, dtype=torch.float64)

    def fn(ims: list[Tensor]) -> list[Tensor]:
        return [F.conv2d(ims[0] + ims[1], weight, padding=1), ims[0] - ims[1]]

    whole = fn([a, b])
    tiled = run_tiled(fn, [a, b], tile=8, margin=2, multiple=2)
    assert [t.shape for t in tiled] == [(1, 2, 22, 30), (1, 3, 22, 30)]
    for got, want in zip(tiled, whole, strict=True):
        assert (got - want).abs().max() < 1e-12


def test_one_piece_when_the_image_fits_or_no_tile() -> None:
    calls: list[tuple[int, ...]] = []

    def fn(ims: list[Tensor]) -> list[Tensor]:
        calls.append(tuple(ims[0].shape))
        return ims

    x = torch.zeros(1, 3, 8, 6)
    run_tiled(fn, [x], tile=None, margin=2, multiple=2)
    run_tiled(fn, [x], tile=8, margin=2, multiple=2)
    assert calls == [(1, 3, 8, 6)] * 2


@pytest.mark.parametrize("scale", [2, Fraction(1, 2), 3, Fraction(1, 3)])
def test_outputs_at_another_scale_line_up(scale: int | Fraction) -> None:
    """Nearest-neighbour up / block-mean down are local: tiling must change nothing."""
    ratio = Fraction(scale)
    s = max(ratio.numerator, ratio.denominator)
    x = torch.rand(1, 3, 6 * s, 4 * s, dtype=torch.float64)

    def fn(ims: list[Tensor]) -> list[Tensor]:
        if ratio > 1:
            return [F.interpolate(ims[0], scale_factor=s, mode="nearest")]
        return [F.avg_pool2d(ims[0], s)]

    (whole,) = fn([x])
    multiple = ratio.denominator
    (tiled,) = run_tiled(fn, [x], tile=2 * multiple, margin=0, multiple=multiple, scale=scale)
    assert tiled.shape == whole.shape and torch.equal(tiled, whole)


def test_tiles_with_the_receptive_margin_are_exact() -> None:
    """float64, strong random weights: any error would come from the tiling itself."""
    model = randomise(IRN(IRN.Config(scale=2, blocks=1, growth=4)), std=0.2).double()
    r = receptive_radius(model)
    assert r == 10 and receptive_radius(IRN(IRN.Config(scale=4))) == 120
    x = torch.rand(1, 3, 2 * 34, 2 * 30, dtype=torch.float64)
    with torch.no_grad():
        full = model(x)
        (tiled,) = run_tiled(lambda t: [model(t[0])], [x], 24, 2 * r, 2, Fraction(1, 2))
        assert (tiled - full).abs().max() < 1e-9
        (back,) = run_tiled(lambda t: [model(t[0], rev=True)], [full], 12, r, 1, 2)
        assert (back - x).abs().max() < 1e-9


@pytest.mark.parametrize(
    ("inputs", "tile", "margin", "multiple", "scale", "message"),
    [
        ([torch.zeros(1, 1, 6, 6), torch.zeros(1, 1, 6, 4)], 4, 0, 2, 1, "one size"),
        ([torch.zeros(1, 1, 5, 6)], 4, 0, 2, 1, "not a multiple of 2"),
        ([torch.zeros(1, 1, 6, 6)], 3, 0, 2, 1, "multiples of 2"),
        ([torch.zeros(1, 1, 6, 6)], 4, 1, 2, 1, "multiples of 2"),
        ([torch.zeros(1, 1, 6, 6)], 0, 0, 1, 1, "tile must be >= 1"),
        ([torch.zeros(1, 1, 6, 6)], 4, 0, 2, Fraction(1, 4), "whole pixels"),
        ([], 4, 0, 1, 1, "at least one input"),
    ],
)
def test_bad_tiling_is_refused(
    inputs: list[Tensor],
    tile: int,
    margin: int,
    multiple: int,
    scale: int | Fraction,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        run_tiled(lambda ims: ims, inputs, tile, margin, multiple, scale)
