"""Image quality metrics whose evaluation protocol is an explicit argument.

Published numbers in image hiding (HiNet, DeepMIH) and invertible rescaling
(IRN) differ by several dB depending on three choices that papers rarely
state: whether the metric is taken on RGB or on the BT.601 luma (Y), how many
border pixels are cropped, and whether images are rounded to 8-bit levels
before measuring. Every function here therefore takes these choices as
keyword arguments instead of hiding them in defaults:

``channel``
    ``"rgb"``: all three channels; ``"y"``: luma from :func:`rgb_to_y`.
``crop_border``
    pixels removed on *each* side before measuring (IRN crops ``scale``).
``quantize``
    round both images to 8-bit levels first, as the published evaluation
    code does implicitly by converting network outputs to ``uint8`` images.

Inputs are torch tensors ``N×3×H×W`` / ``3×H×W`` or NumPy arrays ``H×W×3`` /
``N×H×W×3``. Float values are in ``[0, data_range]`` (``[0, 1]`` unless a
function says otherwise); ``uint8`` values are 8-bit levels and are divided by
255. Everything is computed with torch on the tensors' own device (so a
training loop can measure GPU tensors without a host copy), in float64 where
the device supports it so that near-identical images still give exact PSNRs.
Batched inputs give the mean of the per-image values, because that is how the
papers average over a test set.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytorch_msssim
import torch
from torch import Tensor

__all__ = [
    "SSIM_WINDOW",
    "Channel",
    "ImageLike",
    "apd",
    "bit_accuracy",
    "psnr",
    "psnr_per_image",
    "quality_report",
    "rgb_to_y",
    "rmse",
    "ssim",
    "ssim_per_image",
]

Channel = Literal["rgb", "y"]
ImageLike = Tensor | np.ndarray
BitsLike = Tensor | np.ndarray | bytes | bytearray

#: Side of the Gaussian SSIM window; images must be at least this large.
SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_K = (0.01, 0.03)

# ITU-R BT.601 "studio swing" luma, exactly as MATLAB's rgb2ycbcr and the
# IRN / HiNet / BasicSR evaluation scripts compute it: for R, G, B in [0, 1]
# Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255, i.e. Y in [16, 235] / 255.
# Using the same offset and scale is what makes our Y-PSNR comparable with
# theirs; a full-range luma would shift every number.
_Y_OFFSET = 16.0 / 255.0
_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


def _compute_dtype(device: torch.device) -> torch.dtype:
    """float64 for exactness, except on backends (MPS) that lack it."""
    return torch.float32 if device.type == "mps" else torch.float64


def _as_nchw(x: ImageLike, name: str, device: torch.device | None) -> Tensor:
    """View ``x`` as an ``N×C×H×W`` tensor without changing its dtype."""
    if isinstance(x, np.ndarray):
        if x.ndim not in (3, 4):
            raise ValueError(f"{name}: expected a H×W×3 or N×H×W×3 array, got shape {x.shape}")
        # A read-only array (what invimg.io.read_image returns) is copied: torch warns
        # on a tensor over non-writable memory.
        t = torch.from_numpy(np.array(x, order="C", copy=not x.flags.writeable or None))
        t = t.permute(2, 0, 1).unsqueeze(0) if t.ndim == 3 else t.permute(0, 3, 1, 2)
        if device is not None:
            t = t.to(device)
    elif isinstance(x, Tensor):
        if x.ndim not in (3, 4):
            raise ValueError(f"{name}: expected a 3×H×W or N×3×H×W tensor, got {tuple(x.shape)}")
        t = x.unsqueeze(0) if x.ndim == 3 else x
    else:
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if t.shape[1] != 3:
        raise ValueError(f"{name}: expected 3 (RGB) channels, got shape {tuple(x.shape)}")
    return t


def _to_unit_range(t: Tensor, name: str, data_range: float) -> Tensor:
    """Convert to the compute dtype with values scaled to ``[0, 1]``."""
    dtype = _compute_dtype(t.device)
    if t.dtype == torch.uint8:
        return t.to(dtype) / 255.0
    if not t.is_floating_point():
        raise TypeError(f"{name}: expected float or uint8 values, got {t.dtype}")
    t = t.to(dtype)
    return t if data_range == 1.0 else t / data_range


def _quantize(t: Tensor) -> Tensor:
    """Round to 8-bit levels the way ``tensor2img`` in IRN/BasicSR does (clamp, ×255, round)."""
    return torch.round(t.clamp(0.0, 1.0) * 255.0) / 255.0


def _crop(t: Tensor, crop_border: int) -> Tensor:
    """Remove ``crop_border`` pixels from each side of the last two dimensions."""
    if crop_border == 0:
        return t
    return t[..., crop_border:-crop_border, crop_border:-crop_border]


def _check_protocol(channel: str, crop_border: int, data_range: float) -> None:
    """Refuse a malformed protocol loudly: a typo such as ``"Y"`` must not measure RGB."""
    if channel not in ("rgb", "y"):
        raise ValueError(f"channel must be 'rgb' or 'y', got {channel!r}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"crop_border must be a non-negative int, got {crop_border!r}")
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range!r}")


def _prepare_pair(
    a: ImageLike,
    b: ImageLike,
    *,
    crop_border: int,
    data_range: float = 1.0,
    quantize: bool = False,
) -> tuple[Tensor, Tensor]:
    """Both images as cropped ``N×3×H×W`` tensors in ``[0, 1]`` on one device.

    A NumPy argument follows the other argument's device, so mixing a GPU
    tensor with a reference array loaded from disk works.
    """
    device = b.device if isinstance(b, Tensor) else None
    ta = _as_nchw(a, "a", device)
    tb = _as_nchw(b, "b", ta.device)
    if ta.shape != tb.shape:
        raise ValueError(
            f"images must have the same shape, got {_shape(a)} and {_shape(b)}"
            f" (as N×C×H×W: {tuple(ta.shape)} and {tuple(tb.shape)})"
        )
    if ta.device != tb.device:
        raise ValueError(f"images are on different devices: {ta.device} and {tb.device}")
    height, width = ta.shape[-2:]
    if 2 * crop_border >= min(height, width):
        raise ValueError(f"crop_border={crop_border} leaves nothing of a {height}×{width} image")
    ua = _to_unit_range(_crop(ta, crop_border), "a", data_range)
    ub = _to_unit_range(_crop(tb, crop_border), "b", data_range)
    if quantize:
        ua, ub = _quantize(ua), _quantize(ub)
    return ua, ub


def _shape(x: object) -> tuple[int, ...]:
    """The caller's own shape, for error messages that match what they passed."""
    return tuple(getattr(x, "shape", ()))


def _select(t: Tensor, channel: Channel) -> Tensor:
    """The measured channels of an ``N×3×H×W`` image in ``[0, 1]``."""
    return _y_of_nchw(t) if channel == "y" else t


def _y_of_nchw(t: Tensor) -> Tensor:
    r, g, b = t[:, 0:1], t[:, 1:2], t[:, 2:3]
    return _Y_OFFSET + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b


# --------------------------------------------------------------------------
# Colour conversion
# --------------------------------------------------------------------------


def rgb_to_y(x: ImageLike) -> ImageLike:
    """BT.601 luma in ``[16/255, 235/255]`` as MATLAB's ``rgb2ycbcr`` computes it.

    ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` for ``R, G, B`` in
    ``[0, 1]`` (``uint8`` inputs are divided by 255 first). The offset and
    studio-swing scale are kept because the published IRN/HiNet/BasicSR
    evaluation code uses them, so Y-channel numbers compare with theirs.

    Tensors ``N×3×H×W`` / ``3×H×W`` give ``N×1×H×W`` / ``1×H×W`` tensors;
    arrays ``H×W×3`` / ``N×H×W×3`` give float64 arrays ``H×W`` / ``N×H×W``.
    """
    t = _to_unit_range(_as_nchw(x, "x", None), "x", 1.0)
    y = _y_of_nchw(t)
    if isinstance(x, np.ndarray):
        out = y[:, 0].cpu().numpy()
        return out[0] if x.ndim == 3 else out
    if x.ndim == 3:
        y = y[0]
    return y if x.dtype == torch.uint8 else y.to(x.dtype)


# --------------------------------------------------------------------------
# Per-image metrics (tensors of shape [N])
# --------------------------------------------------------------------------


def _mse(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).pow(2).flatten(1).mean(dim=1)


def _psnr(a: Tensor, b: Tensor) -> Tensor:
    # Inputs are already scaled to [0, 1], so the peak is 1; MSE 0 gives +inf.
    return -10.0 * torch.log10(_mse(a, b))


def _ssim(a: Tensor, b: Tensor) -> Tensor:
    height, width = a.shape[-2:]
    if min(height, width) < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels after cropping,"
            f" got {height}×{width}"
        )
    # pytorch_msssim uses a "valid" Gaussian window (no padding), which is what
    # skimage's structural_similarity does as well by dropping the border; it
    # returns the per-image mean over channels when size_average=False.
    return pytorch_msssim.ssim(
        a,
        b,
        data_range=1.0,
        size_average=False,
        win_size=SSIM_WINDOW,
        win_sigma=_SSIM_SIGMA,
        K=_SSIM_K,
    )


def _apd(a: Tensor, b: Tensor) -> Tensor:
    return 255.0 * (a - b).abs().flatten(1).mean(dim=1)


def _rmse(a: Tensor, b: Tensor) -> Tensor:
    return 255.0 * _mse(a, b).sqrt()


def psnr_per_image(
    a: ImageLike,
    b: ImageLike,
    *,
    channel: Channel = "rgb",
    crop_border: int = 0,
    data_range: float = 1.0,
    quantize: bool = False,
) -> Tensor:
    """PSNR of each image in the batch, as a tensor ``[N]`` on the inputs' device.

    Meant for validation inside training loops, where the per-image values are
    logged or averaged on the GPU without leaving it. See :func:`psnr`.
    """
    _check_protocol(channel, crop_border, data_range)
    ta, tb = _prepare_pair(a, b, crop_border=crop_border, data_range=data_range, quantize=quantize)
    return _psnr(_select(ta, channel), _select(tb, channel))


def ssim_per_image(
    a: ImageLike,
    b: ImageLike,
    *,
    channel: Channel = "rgb",
    crop_border: int = 0,
    quantize: bool = False,
) -> Tensor:
    """SSIM of each image in the batch, as a tensor ``[N]``. See :func:`ssim`."""
    _check_protocol(channel, crop_border, 1.0)
    ta, tb = _prepare_pair(a, b, crop_border=crop_border, quantize=quantize)
    return _ssim(_select(ta, channel), _select(tb, channel))


# --------------------------------------------------------------------------
# Public scalar metrics
# --------------------------------------------------------------------------


def psnr(
    a: ImageLike,
    b: ImageLike,
    *,
    channel: Channel = "rgb",
    crop_border: int = 0,
    data_range: float = 1.0,
    quantize: bool = False,
) -> float:
    """Peak signal-to-noise ratio in dB, mean over the batch.

    Per image: ``MSE`` over all pixels and measured channels, then
    ``10·log10(data_range² / MSE)``; float inputs are in ``[0, data_range]``
    (``uint8`` inputs are always 8-bit levels). Identical images give
    ``math.inf``. Averaging per-image PSNRs (not pooling the MSE) matches how
    the papers report a test-set mean.
    """
    values = psnr_per_image(
        a, b, channel=channel, crop_border=crop_border, data_range=data_range, quantize=quantize
    )
    return float(values.mean())


def ssim(
    a: ImageLike,
    b: ImageLike,
    *,
    channel: Channel = "rgb",
    crop_border: int = 0,
    quantize: bool = False,
) -> float:
    """Structural similarity, mean over the batch.

    Gaussian window 11×11 with σ = 1.5, K1 = 0.01, K2 = 0.03, data range 1,
    valid-window pooling (Wang et al. 2004, as ``pytorch_msssim`` and
    ``skimage`` with ``gaussian_weights=True, use_sample_covariance=False``).
    RGB: SSIM of each channel, then their mean. Images smaller than the window
    (after cropping) raise ``ValueError``.
    """
    return float(
        ssim_per_image(a, b, channel=channel, crop_border=crop_border, quantize=quantize).mean()
    )


def apd(
    a: ImageLike,
    b: ImageLike,
    *,
    channel: Channel = "rgb",
    crop_border: int = 0,
    quantize: bool = False,
) -> float:
    """Average pixel discrepancy: mean ``|a − b|`` on the 0–255 scale, mean over the batch.

    Reported on the 0–255 scale because that is how HiNet and DeepMIH give it.
    """
    _check_protocol(channel, crop_border, 1.0)
    ta, tb = _prepare_pair(a, b, crop_border=crop_border, quantize=quantize)
    return float(_apd(_select(ta, channel), _select(tb, channel)).mean())


def rmse(
    a: ImageLike,
    b: ImageLike,
    *,
    channel: Channel = "rgb",
    crop_border: int = 0,
    quantize: bool = False,
) -> float:
    """Root mean squared error on the 0–255 scale, per image, then mean over the batch."""
    _check_protocol(channel, crop_border, 1.0)
    ta, tb = _prepare_pair(a, b, crop_border=crop_border, quantize=quantize)
    return float(_rmse(_select(ta, channel), _select(tb, channel)).mean())


def quality_report(
    reference: ImageLike,
    test: ImageLike,
    *,
    crop_border: int = 0,
    quantize: bool = False,
) -> dict[str, float]:
    """All metrics under one protocol: PSNR and SSIM on RGB and Y, APD and RMSE on RGB.

    Keys: ``psnr_rgb, psnr_y, ssim_rgb, ssim_y, apd, rmse``. Reporting RGB and
    Y side by side avoids the most common mismatch when comparing with papers.
    """
    _check_protocol("rgb", crop_border, 1.0)
    ref, tst = _prepare_pair(reference, test, crop_border=crop_border, quantize=quantize)
    ref_y, tst_y = _y_of_nchw(ref), _y_of_nchw(tst)
    return {
        "psnr_rgb": float(_psnr(ref, tst).mean()),
        "psnr_y": float(_psnr(ref_y, tst_y).mean()),
        "ssim_rgb": float(_ssim(ref, tst).mean()),
        "ssim_y": float(_ssim(ref_y, tst_y).mean()),
        "apd": float(_apd(ref, tst).mean()),
        "rmse": float(_rmse(ref, tst).mean()),
    }


# --------------------------------------------------------------------------
# Bits
# --------------------------------------------------------------------------


def _as_bits(x: BitsLike, name: str) -> Tensor:
    """A boolean tensor of bits; ``bytes`` are unpacked most significant bit first."""
    if isinstance(x, bytes | bytearray):
        t = torch.from_numpy(np.unpackbits(np.frombuffer(bytes(x), dtype=np.uint8)))
    elif isinstance(x, np.ndarray):
        # A read-only array (what invimg.io.read_image returns) is copied: torch warns
        # on a tensor over non-writable memory.
        t = torch.from_numpy(np.array(x, order="C", copy=not x.flags.writeable or None))
    elif isinstance(x, Tensor):
        t = x
    else:
        raise TypeError(f"{name}: expected bytes, an array or a tensor, got {type(x).__name__}")
    if t.dtype == torch.bool:
        return t
    if t.is_floating_point() or t.is_complex():
        raise TypeError(
            f"{name}: bits must be bool or integer 0/1, got {t.dtype}; threshold first (x > 0.5)"
        )
    if bool(((t != 0) & (t != 1)).any()):
        raise ValueError(f"{name}: integer bits must be 0 or 1")
    return t != 0


def bit_accuracy(bits_a: BitsLike, bits_b: BitsLike) -> float:
    """Fraction of positions where the two bit sequences agree, in ``[0, 1]``.

    Accepts bool or 0/1 integer arrays/tensors of the same shape, or ``bytes``
    of the same length compared bit by bit (``bytes`` and bit arrays can be
    mixed; bytes unpack most significant bit first). Floats are refused rather
    than silently thresholded, because the right threshold depends on the
    decoder (0.5 for probabilities, 0 for logits).
    """
    ta = _as_bits(bits_a, "bits_a")
    tb = _as_bits(bits_b, "bits_b").to(ta.device)
    if ta.shape != tb.shape:
        raise ValueError(f"bit sequences differ in shape: {tuple(ta.shape)} and {tuple(tb.shape)}")
    if ta.numel() == 0:
        raise ValueError("bit_accuracy of empty bit sequences is undefined")
    return float((ta == tb).sum().item()) / ta.numel()
