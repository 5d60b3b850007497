"""Inpainting building blocks: masks, the hard map, partial convolutions, SPDNorm, PD-GAN, D."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from invimg.errors import InputImageError
from invimg.inpainting.discriminator import DiscriminatorConfig, MultiScaleDiscriminator
from invimg.inpainting.masks import (
    EVAL_BINS,
    TRAIN_BINS,
    known_from_hole,
    load_mask,
    random_hole,
)
from invimg.inpainting.pdgan import PDGAN
from invimg.inpainting.prior import PartialConv2d, PartialConvUNet, push_pull_fill
from invimg.inpainting.spdnorm import (
    SPDNorm,
    SPDNormResBlock,
    hard_probability_map,
    positional_norm,
)


def tiny_pdgan(k: float = 4.0) -> PDGAN:
    return PDGAN(
        PDGAN.Config(
            widths=[8, 8, 8],
            z_dim=4,
            hidden=8,
            k=k,
            prior={"width": 4, "max_width": 8, "levels": 3},
        )
    )


def square_hole(size: int = 32, lo: int = 8, hi: int = 24) -> torch.Tensor:
    hole = np.zeros((size, size), dtype=bool)
    hole[lo:hi, lo:hi] = True
    return known_from_hole(hole)


# -- masks ---------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [*EVAL_BINS, *TRAIN_BINS])
def test_random_holes_land_in_their_bin(ratio: tuple[float, float]) -> None:
    rng = np.random.default_rng(5)
    for _ in range(6):
        hole = random_hole((64, 80), ratio, rng)
        assert hole.shape == (64, 80) and hole.dtype == bool
        assert ratio[0] <= hole.mean() <= ratio[1]


def test_random_hole_is_a_function_of_its_seed() -> None:
    a = random_hole((48, 48), (0.1, 0.3), np.random.default_rng(1))
    b = random_hole((48, 48), (0.1, 0.3), np.random.default_rng(1))
    c = random_hole((48, 48), (0.1, 0.3), np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_user_mask_white_is_hole_and_size_must_match() -> None:
    grey = np.zeros((10, 12), np.uint8)
    grey[2:5, 3:9] = 255
    hole = load_mask(grey, (10, 12))
    assert hole.sum() == 18 and hole[3, 4] and not hole[0, 0]
    with pytest.raises(InputImageError, match="same size"):
        load_mask(grey, (12, 10))


def test_grey_mask_is_thresholded_with_a_warning() -> None:
    ramp = np.tile(np.linspace(0, 255, 16).astype(np.uint8), (4, 1))
    with pytest.warns(UserWarning, match="not black and white"):
        hole = load_mask(ramp)
    assert np.array_equal(hole[0], ramp[0] > 127.5)
    colour = np.zeros((20, 20, 3), np.uint8)
    colour[1, 1] = (255, 255, 255)
    colour[2, 2] = (255, 0, 0)  # luma 76: not hole (one grey pixel in 400: no warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_mask(colour).sum() == 1


# -- the hard probability map ------------------------------------------------------


@pytest.mark.parametrize("k", [4.0, math.e])
def test_hard_map_is_one_on_known_then_one_over_k_power_i(k: float) -> None:
    known = square_hole()
    hard = hard_probability_map(known, iterations=3, kernel=3, k=k)[0, 0]
    assert torch.all(hard[known[0, 0] == 1] == 1)
    for i in range(1, 4):  # ring i: pixels at chessboard distance i from the known region
        assert torch.allclose(hard[8 + i - 1, 8 + i - 1 : 24 - i + 1], torch.tensor(k**-i))
    assert torch.allclose(hard[16, 16], torch.tensor(k**-3))  # beyond the last ring
    assert torch.all(hard[8:24, 8:24] < 1)


def test_hard_map_kernel_sets_ring_width() -> None:
    hard = hard_probability_map(square_hole(), iterations=2, kernel=5, k=4.0)[0, 0]
    assert hard[8, 12] == hard[9, 12] == 0.25  # a 5×5 window reaches 2 pixels per step
    assert hard[10, 12] == hard[11, 12] == 1 / 16


def test_hard_map_refuses_bad_settings() -> None:
    with pytest.raises(ValueError):
        hard_probability_map(square_hole(), iterations=2, kernel=4, k=4.0)
    with pytest.raises(ValueError):
        hard_probability_map(square_hole(), iterations=2, kernel=3, k=1.0)


# -- partial convolutions and the prior ------------------------------------------------


def test_partial_conv_ignores_hole_content_and_grows_the_mask() -> None:
    conv = PartialConv2d(3, 5, 3, padding=1)
    known = square_hole(16, 4, 12)
    x = torch.rand(1, 3, 16, 16)
    y = x.clone()
    y[..., 4:12, 4:12] = torch.rand(1, 3, 8, 8) * 100
    out_x, mask_x = conv(x, known)
    out_y, mask_y = conv(y, known)
    assert torch.equal(out_x, out_y) and torch.equal(mask_x, mask_y)
    assert mask_x.sum() > known.sum() and torch.all(out_x[mask_x.expand_as(out_x) == 0] == 0)


def test_partial_conv_renormalises_over_known_pixels() -> None:
    conv = PartialConv2d(1, 1, 3, padding=1, bias=False)
    torch.nn.init.constant_(conv.weight, 1 / 9)
    known = torch.ones(1, 1, 8, 8)
    known[..., :, :4] = 0
    out, _ = conv(torch.full((1, 1, 8, 8), 0.7), known)
    assert torch.allclose(out[..., 1:-1, 3:-1], torch.tensor(0.7))  # a flat image stays flat


def test_prior_output_is_independent_of_the_hole_content() -> None:
    net = PartialConvUNet(PartialConvUNet.Config(width=4, max_width=8, levels=3))
    torch.nn.init.normal_(net.last.weight, std=0.5)
    known = square_hole()
    x = torch.rand(2, 3, 32, 32)
    y = x.clone()
    y[..., 8:24, 8:24] = torch.rand(2, 3, 16, 16)
    assert torch.allclose(net(x, known.expand(2, -1, -1, -1)), net(y, known.expand(2, -1, -1, -1)))


def test_push_pull_keeps_known_pixels_and_fills_flat_images_flat() -> None:
    known = square_hole()
    x = torch.rand(1, 3, 32, 32)
    filled = push_pull_fill(x, known)
    assert torch.equal(filled[known.expand_as(x) == 1], x[known.expand_as(x) == 1])
    flat = push_pull_fill(torch.full((1, 3, 32, 32), 0.3), known)
    assert torch.allclose(flat, torch.tensor(0.3), atol=1e-6)


# -- SPDNorm and the generator ----------------------------------------------------------


def test_positional_norm_normalises_each_pixel_across_channels() -> None:
    y = positional_norm(torch.randn(2, 6, 5, 5) * 3 + 1)
    assert torch.allclose(y.mean(1), torch.zeros(2, 5, 5), atol=1e-5)
    assert torch.allclose(y.std(1), torch.ones(2, 5, 5), atol=1e-3)


def test_spdnorm_with_zero_probability_is_plain_normalisation() -> None:
    norm = SPDNorm(6, 8)
    x, prior = torch.randn(1, 6, 8, 8), torch.rand(1, 3, 8, 8)
    assert torch.allclose(norm(x, prior, torch.zeros(1, 1, 8, 8)), positional_norm(x))
    assert not torch.allclose(norm(x, prior, torch.ones(1, 1, 8, 8)), positional_norm(x))


def test_spdnorm_block_shapes_and_soft_map() -> None:
    block = SPDNormResBlock(8, 4, hidden=8, iterations=2, kernel=3, k=4.0)
    x, prior = torch.randn(2, 8, 16, 16), torch.rand(2, 3, 64, 64)
    known = square_hole(64, 16, 48).expand(2, -1, -1, -1)
    assert block(x, prior, known).shape == (2, 4, 16, 16)
    small_known = torch.nn.functional.interpolate(known, size=(16, 16))
    hard, soft = block.maps(x, torch.rand(2, 3, 16, 16), small_known)
    assert hard.shape == (2, 1, 16, 16) and soft.shape == (2, 8, 16, 16)
    on_known = small_known.expand_as(soft) == 1
    assert torch.all(soft[on_known] == 1) and torch.all((soft >= 0) & (soft <= 1))


def test_untrained_residual_generator_returns_the_prior_and_runs_at_any_multiple() -> None:
    net = tiny_pdgan().eval()
    for size in (32, 64):
        x = torch.rand(1, 3, size, size)
        known = square_hole(size, size // 4, 3 * size // 4)
        z = torch.randn(2, *net.latent_shape(size, size))
        out = net(x, known, z)
        assert out.shape == (2, 3, size, size)
        assert torch.allclose(out[0], net.prior_image(x, known)[0], atol=1e-6)
    with pytest.raises(ValueError):
        PDGAN(PDGAN.Config(widths=[8] * 7))


def test_generator_samples_depend_on_z_once_trained_away_from_zero() -> None:
    net = tiny_pdgan().eval()
    torch.nn.init.normal_(net.to_image.weight, std=0.2)
    x, known = torch.rand(1, 3, 32, 32), square_hole()
    z = torch.randn(2, *net.latent_shape(32, 32))
    a, b = net(x, known, z)
    hole = known[0].expand(3, -1, -1) == 0
    assert not torch.allclose(a[hole], b[hole])
    assert torch.equal(a[~hole], x[0][~hole])


def test_output_stride_generator_varies_smoothly_and_keeps_the_schedule_of_its_resolution() -> None:
    config = PDGAN.Config(
        widths=[8, 8], z_dim=4, hidden=8, output_stride=4, prior={"width": 4, "levels": 3}
    )
    net = PDGAN(config).eval()
    assert net.size_multiple == 16 and net.latent_shape(64, 32) == (4, 4, 2)
    # blocks at 1/16 and 1/8 of the image use the published entries of 1/16 and 1/8
    assert [(b.iterations, b.kernel) for b in net.blocks] == [(4, 3), (5, 3)]
    torch.nn.init.normal_(net.to_image.weight, std=0.2)
    x, known = torch.rand(1, 3, 64, 64), square_hole(64, 8, 56)
    a, b = net(x, known, torch.randn(2, *net.latent_shape(64, 64)))
    hole = known[0].expand(3, -1, -1) == 0
    assert a.shape == (3, 64, 64) and torch.equal(a[~hole], x[0][~hole])
    diff = (a - b)[:, 16:48, 16:48]  # deep inside the hole, away from the clamp at 0 and 1
    assert diff.abs().mean() > 1e-3
    # bilinear ×4: neighbouring pixels differ far less than the samples do
    assert (diff[:, 1:] - diff[:, :-1]).abs().mean() < 0.5 * diff.abs().mean()
    with pytest.raises(ValueError, match="power of 2"):
        PDGAN(PDGAN.Config(widths=[8], output_stride=3))
    with pytest.raises(ValueError, match="levels"):
        PDGAN(PDGAN.Config(widths=[8] * 5, output_stride=4))


def test_frozen_discriminator_passes_gradient_to_the_image_only() -> None:
    d = MultiScaleDiscriminator(DiscriminatorConfig(width=4, layers=2, scales=2))
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    outs = d(torch.zeros(1, 1, 32, 32), image, frozen=True)
    assert len(outs) == 2 and outs[1][-1].shape[-1] < outs[0][-1].shape[-1]
    sum(o[-1].mean() for o in outs).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.parameters())
