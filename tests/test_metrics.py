"""Tests of invimg.metrics against hand computations and scikit-image.

References are computed independently of the code under test (NumPy by hand
or scikit-image), so a wrong formula, a wrong luma, a wrong crop or a wrong
averaging order makes these tests fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import data as skdata
from skimage.filters import gaussian
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from invimg.metrics import (
    SSIM_WINDOW,
    Channel,
    ImageLike,
    apd,
    bit_accuracy,
    psnr,
    psnr_per_image,
    quality_report,
    rgb_to_y,
    rmse,
    ssim,
    ssim_per_image,
)

# --------------------------------------------------------------------------
# Independent references
# --------------------------------------------------------------------------


def ref_y(img: np.ndarray) -> np.ndarray:
    """BT.601 studio-swing luma of an H×W×3 float image in [0, 1], written out by hand."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """skimage's SSIM with the Wang et al. settings the module promises."""
    kwargs = {
        "gaussian_weights": True,
        "sigma": 1.5,
        "use_sample_covariance": False,
        "data_range": 1.0,
    }
    if a.ndim == 3:
        return float(structural_similarity(a, b, channel_axis=-1, **kwargs))
    return float(structural_similarity(a, b, **kwargs))


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """H×W×3 array -> 3×H×W tensor (dtype kept)."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def rng_image(seed: int, h: int = 32, w: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3))


@cache
def natural(name: str) -> np.ndarray:
    """A 96×128 float crop of a bundled scikit-image photograph (small, so tests stay fast)."""
    img = {"astronaut": skdata.astronaut, "coffee": skdata.coffee, "chelsea": skdata.chelsea}[
        name
    ]()
    return img[40:136, 60:188].astype(np.float64) / 255.0


def degrade(img: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        out = img + rng.normal(0.0, 0.05, img.shape)
    elif kind == "blur":
        out = gaussian(img, sigma=1.2, channel_axis=-1)
    else:  # both
        out = gaussian(img, sigma=0.8, channel_axis=-1) + rng.normal(0.0, 0.02, img.shape)
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------
# Luma
# --------------------------------------------------------------------------


def test_y_of_white_black_and_primaries() -> None:
    colours = np.array(
        [[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]
    )
    expected = np.array([[235.0, 16.0, 16 + 65.481, 16 + 128.553, 16 + 24.966]]) / 255.0
    np.testing.assert_allclose(rgb_to_y(colours), expected, atol=1e-12)
    y_t = rgb_to_y(to_tensor(colours))
    assert isinstance(y_t, torch.Tensor) and y_t.shape == (1, 1, 5)
    np.testing.assert_allclose(y_t[0].numpy(), expected, atol=1e-12)


def test_y_of_uint8_and_batched_tensor() -> None:
    img = (rng_image(1) * 255).round().astype(np.uint8)
    expected = ref_y(img / 255.0)
    np.testing.assert_allclose(rgb_to_y(img), expected, atol=1e-12)
    batch = torch.stack([to_tensor(img / 255.0)] * 2)
    y = rgb_to_y(batch)
    assert isinstance(y, torch.Tensor) and y.shape == (2, 1, 32, 40)
    np.testing.assert_allclose(y[1, 0].numpy(), expected, atol=1e-12)


# --------------------------------------------------------------------------
# PSNR
# --------------------------------------------------------------------------


def test_psnr_hand_computed() -> None:
    a = np.zeros((8, 8, 3))
    assert psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-9)  # MSE 0.01
    b = a.copy()
    b[3, 4, 1] = 0.5  # one value off by 0.5 among 192: MSE = 0.25 / 192
    assert psnr(a, b) == pytest.approx(10 * math.log10(192 / 0.25), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psnr_matches_skimage_rgb_and_y(seed: int) -> None:
    a = rng_image(seed)
    b = np.clip(a + np.random.default_rng(seed + 10).normal(0, 0.03, a.shape), 0, 1)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-9)
    expected_y = peak_signal_noise_ratio(ref_y(a), ref_y(b), data_range=1.0)
    assert psnr(a, b, channel="y") == pytest.approx(expected_y, abs=1e-9)


def test_psnr_identical_images_is_inf() -> None:
    a = torch.rand(2, 3, 16, 16)
    assert psnr(a, a.clone()) == math.inf
    assert psnr(a, a.clone(), channel="y") == math.inf


def test_psnr_data_range() -> None:
    a, b = rng_image(3), rng_image(4)
    assert psnr(a * 255, b * 255, data_range=255.0) == pytest.approx(psnr(a, b), abs=1e-9)
    assert psnr(a * 255, b * 255, data_range=255.0) == pytest.approx(
        peak_signal_noise_ratio(a * 255, b * 255, data_range=255.0), abs=1e-9
    )


def test_psnr_per_image_shape_and_values() -> None:
    a = torch.rand(3, 3, 16, 16)
    b = (a + 0.02 * torch.randn_like(a)).clamp(0, 1)
    values = psnr_per_image(a, b)
    assert values.shape == (3,) and values.device == a.device
    for i in range(3):
        x, y = a[i].permute(1, 2, 0).numpy(), b[i].permute(1, 2, 0).numpy()
        expected = peak_signal_noise_ratio(x.astype(np.float64), y.astype(np.float64), data_range=1)
        assert float(values[i]) == pytest.approx(expected, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sigma=st.floats(1e-3, 0.3),
    channel=st.sampled_from(["rgb", "y"]),
)
def test_psnr_property_symmetric_and_formula(seed: int, sigma: float, channel: str) -> None:
    rng = np.random.default_rng(seed)
    a = rng.random((6, 7, 3))
    b = a + rng.normal(0, sigma, a.shape)
    value = psnr(a, b, channel=channel)  # type: ignore[arg-type]
    assert value == pytest.approx(psnr(b, a, channel=channel), abs=1e-9)  # type: ignore[arg-type]
    x, y = (ref_y(a), ref_y(b)) if channel == "y" else (a, b)
    assert value == pytest.approx(-10 * math.log10(np.mean((x - y) ** 2)), abs=1e-9)


def test_quantize_rounds_to_8_bit_levels_first() -> None:
    a = rng_image(5)
    b = np.clip(a + 0.004, 0, 1)
    qa, qb = np.round(a * 255) / 255, np.round(b * 255) / 255
    channels: list[Channel] = ["rgb", "y"]
    for channel in channels:
        got = psnr(a, b, channel=channel, quantize=True)
        assert got == pytest.approx(psnr(qa, qb, channel=channel), abs=1e-9)
    assert psnr(a, b, quantize=True) != pytest.approx(psnr(a, b), abs=1e-3)


# --------------------------------------------------------------------------
# SSIM
# --------------------------------------------------------------------------

SSIM_CASES = [
    ("random", "noise"),
    ("astronaut", "noise"),
    ("astronaut", "blur"),
    ("coffee", "both"),
    ("coffee", "blur"),
    ("chelsea", "noise"),
    ("chelsea", "both"),
]


@pytest.mark.parametrize(("name", "kind"), SSIM_CASES)
def test_ssim_matches_skimage(name: str, kind: str) -> None:
    ref = rng_image(7, 48, 56) if name == "random" else natural(name)
    test = degrade(ref, kind)
    assert ssim(ref, test) == pytest.approx(sk_ssim(ref, test), abs=1e-3)
    assert ssim(ref, test, channel="y") == pytest.approx(sk_ssim(ref_y(ref), ref_y(test)), abs=1e-3)


def test_ssim_rgb_is_mean_of_channels_not_of_luma() -> None:
    ref = natural("coffee")
    test = degrade(ref, "noise")
    per_channel = [sk_ssim(ref[..., c], test[..., c]) for c in range(3)]
    assert ssim(ref, test) == pytest.approx(float(np.mean(per_channel)), abs=1e-3)


def test_ssim_identical_is_one_and_too_small_raises() -> None:
    a = torch.rand(3, SSIM_WINDOW, SSIM_WINDOW)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    small = torch.rand(3, SSIM_WINDOW - 1, 32)
    with pytest.raises(ValueError, match="at least"):
        ssim(small, small)
    with pytest.raises(ValueError, match="after cropping"):
        ssim(a, a, crop_border=1)


# --------------------------------------------------------------------------
# Border cropping
# --------------------------------------------------------------------------


def border_only_difference(k: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng_image(8, 40, 44)
    b = a.copy()
    b[:k] = 1 - b[:k]
    b[-k:, :, 0] = 0.0
    b[:, :k, 1] = 1.0
    b[:, -k:] = 0.5
    return a, b


def test_crop_border_hides_a_border_only_difference() -> None:
    k = 4
    a, b = border_only_difference(k)
    assert math.isfinite(psnr(a, b)) and apd(a, b) > 0
    assert psnr(a, b, crop_border=k) == math.inf
    assert psnr(a, b, crop_border=k, channel="y") == math.inf
    assert ssim(a, b, crop_border=k) == pytest.approx(1.0, abs=1e-12)
    assert ssim(a, b) < 0.99
    assert apd(a, b, crop_border=k) == 0.0
    assert rmse(a, b, crop_border=k) == 0.0


def test_crop_border_removes_exactly_k_pixels() -> None:
    k = 4
    a, _ = border_only_difference(k)
    for y, x in [(k, k), (-k - 1, -k - 1), (k, 20), (20, -k - 1)]:
        b = a.copy()
        b[y, x, 2] = 1 - b[y, x, 2]
        assert math.isfinite(psnr(a, b, crop_border=k)), (y, x)
    b = np.clip(a + np.random.default_rng(9).normal(0, 0.05, a.shape), 0, 1)
    inner = (slice(k, -k), slice(k, -k))
    expected = peak_signal_noise_ratio(a[inner], b[inner], data_range=1.0)
    assert psnr(a, b, crop_border=k) == pytest.approx(expected, abs=1e-9)
    assert ssim(a, b, crop_border=k) == pytest.approx(sk_ssim(a[inner], b[inner]), abs=1e-3)


@pytest.mark.parametrize("crop", [-1, 20, 2.0, True])
def test_bad_crop_border_raises(crop: object) -> None:
    a = rng_image(0, 40, 44)
    with pytest.raises(ValueError, match="crop_border"):
        psnr(a, a, crop_border=crop)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# APD and RMSE
# --------------------------------------------------------------------------


def test_apd_and_rmse_of_constant_offset() -> None:
    a = rng_image(10) * 0.9
    b = a + 3 / 255
    assert apd(a, b) == pytest.approx(3.0, abs=1e-9)
    assert rmse(a, b) == pytest.approx(3.0, abs=1e-9)
    # On Y the offset is scaled by the sum of the luma weights, 219/255.
    assert apd(a, b, channel="y") == pytest.approx(3 * 219 / 255, abs=1e-9)
    assert rmse(a, b, channel="y") == pytest.approx(3 * 219 / 255, abs=1e-9)


def test_apd_and_rmse_differ_on_uneven_error() -> None:
    a = np.zeros((4, 4, 3))
    b = a.copy()
    b[:2] = 6 / 255  # half of the values off by 6 levels
    assert apd(a, b) == pytest.approx(3.0, abs=1e-9)
    assert rmse(a, b) == pytest.approx(math.sqrt(18.0), abs=1e-9)


# --------------------------------------------------------------------------
# Batches, input kinds, shapes
# --------------------------------------------------------------------------

METRICS: list[Callable[..., float]] = [psnr, ssim, apd, rmse]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("channel", ["rgb", "y"])
def test_batch_mean_equals_mean_of_singles(metric: Callable[..., float], channel: str) -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(3, 3, 24, 20, generator=gen, dtype=torch.float64)
    noise = torch.randn(3, 3, 24, 20, generator=gen, dtype=torch.float64)
    b = (a + noise * torch.tensor([0.01, 0.05, 0.1]).view(3, 1, 1, 1)).clamp(0, 1)
    singles = [metric(a[i], b[i], channel=channel, crop_border=2) for i in range(3)]
    assert len(set(singles)) == 3  # the images really differ, so the mean means something
    batch = metric(a, b, channel=channel, crop_border=2)
    assert batch == pytest.approx(float(np.mean(singles)), rel=1e-12)


def test_numpy_uint8_and_tensor_inputs_agree() -> None:
    rng = np.random.default_rng(11)
    ref8 = rng.integers(0, 256, (24, 28, 3), dtype=np.uint8)
    tst8 = np.clip(ref8.astype(int) + rng.integers(-6, 7, ref8.shape), 0, 255).astype(np.uint8)
    ref_f, tst_f = ref8 / 255.0, tst8 / 255.0
    variants: list[tuple[ImageLike, ImageLike]] = [
        (ref8, tst8),
        (ref_f, tst_f),
        (ref_f.astype(np.float32), tst_f.astype(np.float32)),
        (to_tensor(ref8), to_tensor(tst8)),
        (to_tensor(ref_f), to_tensor(tst_f)),
        (to_tensor(ref_f).unsqueeze(0), to_tensor(tst_f).unsqueeze(0)),
        (ref8[None], tst8[None]),
        (ref8, to_tensor(tst_f)),
    ]
    expected = quality_report(ref_f, tst_f, crop_border=1)
    assert expected["psnr_rgb"] == pytest.approx(
        peak_signal_noise_ratio(ref_f[1:-1, 1:-1], tst_f[1:-1, 1:-1], data_range=1.0), abs=1e-9
    )
    for a, b in variants:
        got = quality_report(a, b, crop_border=1)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-6), (key, type(a), a.dtype)


def test_quality_report_keys_and_values() -> None:
    ref = natural("chelsea")
    tst = degrade(ref, "both")
    report = quality_report(ref, tst, crop_border=4)
    assert list(report) == ["psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y", "apd", "rmse"]
    assert all(isinstance(v, float) for v in report.values())
    assert report["psnr_rgb"] == psnr(ref, tst, crop_border=4)
    assert report["psnr_y"] == psnr(ref, tst, channel="y", crop_border=4)
    assert report["ssim_rgb"] == ssim(ref, tst, crop_border=4)
    assert report["ssim_y"] == ssim(ref, tst, channel="y", crop_border=4)
    assert report["apd"] == apd(ref, tst, crop_border=4)
    assert report["rmse"] == rmse(ref, tst, crop_border=4)
    assert report["psnr_y"] != report["psnr_rgb"]


def test_ssim_per_image_shape() -> None:
    a = torch.rand(2, 3, 16, 16)
    values = ssim_per_image(a, a.flip(-1))
    assert values.shape == (2,)
    assert float(values.mean()) == pytest.approx(ssim(a, a.flip(-1)), abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.zeros((16, 16, 3)), np.zeros((16, 17, 3))),
        (torch.zeros(3, 16, 16), torch.zeros(3, 17, 16)),
        (torch.zeros(2, 3, 16, 16), torch.zeros(3, 3, 16, 16)),
        (np.zeros((16, 16, 3)), torch.zeros(3, 16, 17)),
    ],
)
@pytest.mark.parametrize("metric", [*METRICS, quality_report, psnr_per_image])
def test_mismatched_shapes_raise(a: object, b: object, metric: Callable[..., object]) -> None:
    with pytest.raises(ValueError, match="same shape"):
        metric(a, b)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        psnr(torch.zeros(1, 16, 16), torch.zeros(1, 16, 16))
    with pytest.raises(ValueError, match="expected"):
        psnr(np.zeros((16, 16)), np.zeros((16, 16)))
    with pytest.raises(ValueError, match="channel"):
        psnr(np.zeros((16, 16, 3)), np.zeros((16, 16, 3)), channel="Y")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float or uint8"):
        psnr(np.zeros((16, 16, 3), np.int64), np.zeros((16, 16, 3), np.int64))
    with pytest.raises(TypeError):
        psnr([[0.0]], [[0.0]])  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Bit accuracy
# --------------------------------------------------------------------------


def test_bit_accuracy_known_patterns() -> None:
    assert bit_accuracy(np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0])) == 0.5
    assert bit_accuracy(torch.tensor([True, False, True]), torch.tensor([True, False, True])) == 1
    assert bit_accuracy(np.array([0, 0, 0, 0], np.uint8), np.array([1, 1, 1, 1], np.uint8)) == 0
    assert bit_accuracy(torch.ones(2, 5, dtype=torch.int64), np.eye(2, 5, dtype=bool)) == 0.2


def test_bit_accuracy_bytes_bit_by_bit() -> None:
    assert bit_accuracy(b"\x00", b"\x01") == 7 / 8
    assert bit_accuracy(b"\xff\x00", b"\x0f\x00") == 12 / 16
    assert bit_accuracy(b"hello", bytearray(b"hello")) == 1.0
    assert bit_accuracy(b"\x80", np.array([1, 0, 0, 0, 0, 0, 0, 0])) == 1.0  # MSB first


@pytest.mark.parametrize(
    ("a", "b", "error"),
    [
        (b"ab", b"abc", ValueError),
        (np.array([0, 1]), np.array([0, 1, 1]), ValueError),
        (np.array([0, 2]), np.array([0, 1]), ValueError),
        (b"", b"", ValueError),
        (np.array([0.0, 1.0]), np.array([0.0, 1.0]), TypeError),
        ("01", "01", TypeError),
    ],
)
def test_bit_accuracy_rejects_bad_inputs(a: object, b: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        bit_accuracy(a, b)  # type: ignore[arg-type]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensors_stay_on_device_and_agree_with_cpu() -> None:
    a = torch.rand(2, 3, 24, 24)
    b = (a + 0.03 * torch.randn_like(a)).clamp(0, 1)
    values = psnr_per_image(a.cuda(), b.cuda())
    assert values.device.type == "cuda"
    torch.testing.assert_close(values.cpu(), psnr_per_image(a, b))
    expected = quality_report(a, b, crop_border=2)
    got = quality_report(a.cuda(), b.permute(0, 2, 3, 1).numpy(), crop_border=2)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key
