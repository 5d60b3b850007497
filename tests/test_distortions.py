"""Distortion modules: strengths and statistics, train vs eval behaviour, gradients, sampling."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from invimg.distortions import (
    CONDITION_DIM,
    JPEG,
    KINDS,
    DistortionMixture,
    GaussianNoise,
    PoissonNoise,
    Quantization,
    Resize,
    estimate_jpeg_quality,
    jpeg_round_trip,
    make_distortion,
    parse_distortion,
)


def photo(h: int = 32, w: int = 32, batch: int = 1) -> torch.Tensor:
    """Smooth gradients plus mild texture: JPEG-friendly like a photo."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    texture = 0.05 * torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(0))
    return (torch.stack((yy, xx, 1 - yy * xx))[None] * 0.9 + texture).clamp(0, 1)


def grad_of(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_()
    module(x, torch.Generator().manual_seed(0)).sum().backward()
    assert x.grad is not None
    return x.grad


def test_gaussian_noise_has_the_requested_sigma_in_both_modes() -> None:
    x = torch.full((4, 3, 64, 64), 0.5)
    noise = GaussianNoise(2.0)
    for mode in (True, False):
        noise.train(mode)
        residual = noise(x, torch.Generator().manual_seed(1)) - x
        assert abs(float(residual.std()) * 255 - 2.0) < 0.05
        assert abs(float(residual.mean()) * 255) < 0.05
    assert torch.equal(grad_of(noise.train(), x), torch.ones_like(x))


def test_poisson_variance_grows_with_intensity() -> None:
    photons = 1000.0
    noise = PoissonNoise(photons).eval()
    gen = torch.Generator().manual_seed(2)
    variances = []
    for level in (0.2, 0.8):
        x = torch.full((4, 3, 64, 64), level)
        out = noise(x, gen)
        assert abs(float(out.mean()) - level) < 0.002
        variances.append(float(out.var()))
        assert abs(variances[-1] / (level / photons) - 1) < 0.1  # var = x / λ
    assert 3.4 < variances[1] / variances[0] < 4.6
    assert torch.equal(
        grad_of(noise.train(), torch.full((1, 3, 8, 8), 0.5)), torch.ones(1, 3, 8, 8)
    )


def test_rounding_is_exactly_8_bit_and_straight_through() -> None:
    x = torch.rand(2, 3, 16, 16) * 1.2 - 0.1
    exact = Quantization(8).eval()(x)
    assert torch.equal(exact * 255, torch.round(exact * 255))
    assert float(exact.min()) == 0.0 and float(exact.max()) == 1.0
    assert torch.equal(Quantization(8).train()(x), exact)
    assert torch.equal(grad_of(Quantization(8).train(), x), torch.ones_like(x))
    four = Quantization(4).eval()(x)
    assert len(torch.unique(four)) <= 16
    with pytest.raises(ValueError):
        Quantization(8.5)


def test_jpeg_eval_is_the_real_codec_and_train_its_approximation() -> None:
    x = photo()
    jpeg = JPEG(75)
    real = jpeg.eval()(x)
    assert torch.equal(real[0], jpeg_round_trip(x[0], 75))
    approx = jpeg.train()(x)
    gap = float((approx - real).abs().mean()) * 255
    assert 0 < gap < 1.5  # close to libjpeg, but not libjpeg
    grad = grad_of(jpeg.train(), x)
    assert float(grad.abs().sum()) > 0 and not torch.allclose(grad, torch.ones_like(x))
    assert torch.equal(grad_of(jpeg.eval(), x), torch.ones_like(x))  # real codec: identity
    # "real" training forward: libjpeg's values, the approximation's gradient
    hybrid = JPEG(75, train_forward="real").train()
    assert torch.allclose(hybrid(x), real, atol=1e-6)
    assert torch.allclose(grad_of(hybrid, x), grad)


def test_jpeg_444_approximation_tracks_the_444_codec() -> None:
    x = photo(24, 40)
    jpeg = JPEG(90, subsampling=0)
    gap = (jpeg.train()(x) - jpeg.eval()(x)).abs().mean() * 255
    assert float(gap) < 1.0 and jpeg.eval()(x).shape == x.shape
    with pytest.raises(ValueError):
        JPEG(101)


def test_resize_removes_detail_and_keeps_the_size() -> None:
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None]) % 2
    x = checker.float().expand(1, 3, 32, 32).contiguous() * 0.5 + 0.25
    for resize in (Resize(0.5).train(), Resize(0.5).eval()):
        out = resize(x)
        assert out.shape == x.shape
        assert float(out.std()) < 0.3 * float(x.std())
    smooth = photo()
    gap = (Resize(0.75).train()(smooth) - Resize(0.75).eval()(smooth)).abs().mean() * 255
    assert float(gap) < 2.0
    assert float(grad_of(Resize(0.5).train(), smooth).abs().sum()) > 0


def test_condition_is_one_hot_kind_and_ordered_severity() -> None:
    cond = JPEG(75).condition(batch=2)
    assert cond.shape == (2, CONDITION_DIM)
    assert float(cond[0, KINDS.index("jpeg")]) == 1.0 and float(cond[0, :-1].sum()) == 1.0
    assert JPEG(90).severity() < JPEG(75).severity() < JPEG(40).severity() == 1.0
    assert GaussianNoise(1).severity() < GaussianNoise(4).severity()
    assert PoissonNoise(10000).severity() < PoissonNoise(500).severity()
    assert Quantization(8).severity() == 0.0 and Resize(1.0).severity() == 0.0


def test_text_specs_round_trip() -> None:
    for text in ("jpeg:75", "gaussian:2", "poisson:1000", "resize:0.5", "round:8", "none"):
        assert parse_distortion(text).spec == text
    assert isinstance(parse_distortion("round"), Quantization)
    for bad in ("blur:3", "jpeg:high", "jpeg:0", "resize:2"):
        with pytest.raises(ValueError):
            parse_distortion(bad)


def test_mixture_follows_weights_and_ranges_reproducibly() -> None:
    spec = {
        "round": {"weight": 1},
        "jpeg": {"weight": 3, "low": 50, "high": 95, "train_forward": "real"},
        "poisson": {"weight": 0, "low": 100, "high": 1000},
    }
    mixture = DistortionMixture(spec)
    draws = [mixture.sample(torch.Generator().manual_seed(i)) for i in range(300)]
    again = [mixture.sample(torch.Generator().manual_seed(i)) for i in range(300)]
    assert [d.spec for d in draws] == [d.spec for d in again]
    jpegs = [d for d in draws if isinstance(d, JPEG)]
    assert 0.68 < len(jpegs) / len(draws) < 0.82 and not any(d.kind == "poisson" for d in draws)
    qualities = {d.quality for d in jpegs}
    assert min(qualities) == 50 and max(qualities) == 95
    assert all(d.train_forward == "real" and d.training for d in jpegs)
    for bad in ({"blur": {}}, {"jpeg": {"low": 90, "high": 50}}, {"jpeg": {"colour": 1}}, {}):
        with pytest.raises(ValueError):
            DistortionMixture(bad)


@pytest.mark.parametrize("quality", [30, 75, 90, 95])
def test_jpeg_quality_is_read_back_from_the_file_tables(quality: int) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        assert estimate_jpeg_quality(image.quantization) == quality


def test_every_kind_is_buildable_with_its_default() -> None:
    x = photo(16, 16)
    for kind in KINDS:
        distortion = make_distortion(kind).eval()
        assert distortion(x, torch.Generator().manual_seed(0)).shape == x.shape
