"""Move pixels between NumPy (H x W x 3) and PyTorch (1 x 3 x H x W), and to 8 bits.

Why separate: images on disk are channel-last, models are channel-first and
batched; getting that transpose wrong silently scrambles colours, so it is done
in exactly one place. :func:`quantize_8bit` is the rounding an 8-bit PNG write
performs, so task code can measure quality "as saved" without touching disk;
:func:`quantize_st` is the same rounding inside a training graph.
"""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """H x W x 3 float array -> 1 x 3 x H x W float32 tensor (always a fresh copy).

    A copy, because :class:`~invimg.io.LoadedImage` pixels are read-only and a
    model may write into its input.
    """
    if not isinstance(pixels, np.ndarray) or not np.issubdtype(pixels.dtype, np.floating):
        raise TypeError(f"to_tensor expects a floating-point NumPy array, got {_describe(pixels)}")
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"to_tensor expects H x W x 3 pixels, got shape {pixels.shape}")
    chw = np.array(pixels.transpose(2, 0, 1), dtype=np.float32, order="C", copy=True)
    return torch.from_numpy(chw).unsqueeze(0)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """3 x H x W or 1 x 3 x H x W tensor -> H x W x 3 float32 array (values not clipped).

    Not clipping keeps out-of-range model output visible to the caller;
    :func:`quantize_8bit` clips when it is time to save.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"to_numpy expects a torch.Tensor, got {_describe(t)}")
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"to_numpy expects 3 x H x W or 1 x 3 x H x W, got {tuple(t.shape)}")
    hwc = t.detach().to(device="cpu", dtype=torch.float32).permute(1, 2, 0)
    return np.ascontiguousarray(hwc.numpy())


def quantize_st(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to 8-bit levels, with an identity (straight-through) gradient.

    The forward value is exactly what saving as PNG and reading back gives, so
    training sees the rounding error a user's stego or LR image will carry. The
    gradient is passed unchanged (also outside [0, 1]), as IRN's ``Quant``, so a
    loss after the rounding still reaches the network before it. One function
    for every task that trains through an 8-bit save (hiding, rescaling, data hiding).
    """
    rounded = torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0
    return x + (rounded - x).detach()


def quantize_8bit(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Clip to [0, 1] and round(x * 255) to uint8, exactly as an 8-bit save does.

    Rounding is half-to-even (``np.rint``), matching ``torch.round``. Any shape
    is kept. Non-finite values raise, because they would otherwise become an
    arbitrary byte.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    values = np.asarray(x)
    if not np.issubdtype(values.dtype, np.floating):
        raise TypeError(f"quantize_8bit expects floating-point values, got {values.dtype}")
    if not np.all(np.isfinite(values)):
        raise ValueError("quantize_8bit got NaN or infinite values")
    scaled = np.clip(values, 0.0, 1.0) * 255.0
    return np.rint(scaled).astype(np.uint8)


def _describe(value: object) -> str:
    """Type and dtype of a wrong argument, for a helpful TypeError."""
    dtype = getattr(value, "dtype", None)
    return f"{type(value).__name__}" + (f" of {dtype}" if dtype is not None else "")
