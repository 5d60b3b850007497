"""Turn any image-like object a user passes into the one tensor layout models take.

Why one place: every task function (``invimg.hide``, ``invimg.downscale``, …)
accepts the same kinds of input, and a user must get the same pixels, and the
same error for the same mistake, whichever task they call.

Accepted (``H×W`` is grey and is replicated to three channels):

* a path: read with :func:`invimg.io.read_image`, so every rule of the reader
  applies (16-bit precision, alpha over white, EXIF orientation, …);
* a PIL image: 8-bit modes are converted to RGB (alpha is dropped), 16-bit
  grey keeps its 16 bits (Pillow's own conversion would clip it to 8), ``F``
  is taken as float pixels;
* a NumPy array ``H×W``, ``H×W×1`` or ``H×W×3`` of ``uint8`` (÷ 255),
  ``uint16`` (÷ 65535) or float in [0, 1];
* a tensor ``H×W``, ``C×H×W`` or ``1×C×H×W`` with ``C`` = 1 or 3, ``uint8``
  or float in [0, 1], on any device.

Float pixels up to ``RANGE_SLACK`` outside [0, 1] are rounding noise and are
clamped; anything further out, NaN or infinity is refused rather than
silently clipped, because it means the caller passed 0–255 floats or a broken
array. Every refusal is an :class:`~invimg.errors.InputImageError` whose one
line starts with the argument's name.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Final

import numpy as np
import torch
from torch import Tensor

from invimg.errors import InputImageError
from invimg.io.images import read_image

#: Full-range BT.601 luma weights (what OpenCV's ``BGR2GRAY`` uses).
LUMA_WEIGHTS: Final = (0.299, 0.587, 0.114)
#: How far float pixels may stray outside [0, 1] (rounding) before they are refused.
RANGE_SLACK: Final = 1e-3

_PIL_16BIT_GREY: Final = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_PIL_AS_IS: Final = frozenset({"L", "RGB", "F"})
_UINT_MAX: Final = {1: 255, 2: 65535}  # itemsize -> full scale


def luma(rgb: Tensor) -> Tensor:
    """Full-range BT.601 luma ``(N, 3, H, W) -> (N, 1, H, W)``: the grey image's target."""
    w = rgb.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    return (rgb * w).sum(1, keepdim=True)


def as_image_tensor(image: Any, name: str = "image", *, grey: bool = False) -> Tensor:
    """Any supported image as a fresh float32 ``1×3×H×W`` CPU tensor in [0, 1].

    ``grey=True`` gives ``1×1×H×W``: a grey input as it is (three equal
    channels count as grey), a colour input as its BT.601 luma with a
    ``UserWarning``. ``name`` is the argument's name in error messages.
    """
    t = _checked_range(_channels_first(image, name), name)
    if grey:
        return _as_grey(t, name)
    return t.expand(1, 3, *t.shape[-2:]).contiguous() if t.shape[1] == 1 else t.contiguous()


def _channels_first(image: Any, name: str) -> Tensor:
    """``1×C×H×W`` float32 (C = 1 or 3), scaled but not yet range-checked."""
    if isinstance(image, str | os.PathLike):
        image = _read(image, name)
    if isinstance(image, Tensor):
        t = _from_tensor(image, name)
    elif _is_pil(image):
        t = _from_array(_pil_array(image, name), name)
    elif isinstance(image, np.ndarray):
        t = _from_array(image, name)
    else:
        raise InputImageError(
            f"{name}: expected a path, a PIL image, a NumPy array or a tensor, "
            f"got {type(image).__name__}"
        )
    if t.shape[-2] == 0 or t.shape[-1] == 0:
        raise InputImageError(f"{name}: the image is empty ({t.shape[-2]}×{t.shape[-1]} pixels)")
    return t


def _read(path: str | os.PathLike[str], name: str) -> np.ndarray:
    """The file's pixels; the reader's error (which names the file) gains the argument's name."""
    try:
        return read_image(path).pixels
    except InputImageError as exc:
        raise InputImageError(f"{name}: {exc}") from exc


def _is_pil(image: Any) -> bool:
    """Duck-typed, so PIL is not imported just to ask."""
    return hasattr(image, "mode") and hasattr(image, "convert")


def _pil_array(image: Any, name: str) -> np.ndarray:
    """A PIL image's pixels, never losing 16-bit precision to an 8-bit conversion."""
    mode = image.mode
    if mode in _PIL_16BIT_GREY:
        return np.asarray(image).astype(np.uint16)
    if mode == "I":  # 32-bit integers: Pillow's mode for some 16-bit PNGs
        samples = np.asarray(image)
        if samples.size and (samples.min() < 0 or samples.max() > 0xFFFF):
            raise InputImageError(f"{name}: 32-bit integer pixels beyond 16 bits are not supported")
        return samples.astype(np.uint16)
    return np.asarray(image if mode in _PIL_AS_IS else image.convert("RGB"))


def _from_array(array: np.ndarray, name: str) -> Tensor:
    """``H×W``, ``H×W×1`` or ``H×W×3`` NumPy pixels as ``1×C×H×W``."""
    if array.ndim == 2:
        chw = array[None]
    elif array.ndim == 3 and array.shape[2] in (1, 3):
        chw = array.transpose(2, 0, 1)
    else:
        raise InputImageError(
            f"{name}: expected H×W, H×W×1 or H×W×3 pixels, got shape {array.shape}"
        )
    return torch.from_numpy(_float_pixels(chw, name))[None]


def _float_pixels(array: np.ndarray, name: str) -> np.ndarray:
    """A fresh, writable, C-ordered float32 copy, integers scaled to [0, 1].

    Always a copy: the tensor must not share memory with (or warn about) a
    read-only or caller-owned array; any byte order and strides are accepted.
    """
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind not in "uf" or (kind == "u" and size not in _UINT_MAX):
        raise InputImageError(
            f"{name}: unsupported pixel type {array.dtype} (use uint8, uint16 or float in [0, 1])"
        )
    pixels = np.array(array, dtype=np.float32, order="C")
    if kind == "u":
        pixels /= np.float32(_UINT_MAX[size])
    return pixels


def _from_tensor(t: Tensor, name: str) -> Tensor:
    """``H×W``, ``C×H×W`` or ``1×C×H×W`` tensor as a float32 CPU ``1×C×H×W``."""
    shape = tuple(t.shape)
    t = t.detach()
    if t.dim() == 2:
        t = t[None, None]
    elif t.dim() == 3:
        t = t[None]
    if t.dim() != 4 or t.shape[0] != 1 or t.shape[1] not in (1, 3):
        raise InputImageError(
            f"{name}: expected an H×W, C×H×W or 1×C×H×W tensor with C = 1 or 3, got shape {shape}"
        )
    if t.dtype == torch.uint8:
        return t.cpu().float() / 255
    if not t.is_floating_point():
        raise InputImageError(
            f"{name}: unsupported tensor dtype {t.dtype} (use uint8 or float in [0, 1])"
        )
    return t.cpu().float()


def _checked_range(t: Tensor, name: str) -> Tensor:
    """Refuse NaN/inf and floats outside [0, 1] (beyond rounding); clamp the rounding."""
    if not bool(torch.isfinite(t).all()):
        raise InputImageError(f"{name}: contains NaN or infinite values")
    low, high = float(t.min()), float(t.max())
    if low < -RANGE_SLACK or high > 1 + RANGE_SLACK:
        raise InputImageError(
            f"{name}: float pixel values must be in [0, 1], got [{low:.3g}, {high:.3g}]"
        )
    return t.clamp(0, 1)


def _as_grey(t: Tensor, name: str) -> Tensor:
    """One channel: grey as is, colour as its luma (with a warning: colour is lost)."""
    if t.shape[1] == 1:
        return t.contiguous()
    if torch.equal(t[:, 0], t[:, 1]) and torch.equal(t[:, 1], t[:, 2]):
        return t[:, :1].contiguous()
    warnings.warn(
        f"{name}: expected a grey image, got colour; using its BT.601 luma",
        UserWarning,
        stacklevel=3,
    )
    return luma(t)
