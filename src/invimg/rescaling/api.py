"""Task API: ``downscale`` / ``upscale`` and ``decolorize`` / ``colorize`` for any image.

>>> small = invimg.downscale(photo, scale=4)            # uint8 ⌈H/4⌉×⌈W/4⌉×3
>>> big = invimg.upscale(small, scale=4, size=photo.shape[:2])
>>> grey = invimg.decolorize(photo)                     # uint8 H×W
>>> colour = invimg.colorize(grey)

Inputs may be a file path, a PIL image, a NumPy array (``H×W×3`` or ``H×W``; ``uint8``,
``uint16`` or float in [0, 1]) or a tensor (``3×H×W`` / ``1×3×H×W`` /
``H×W``; ``uint8`` or float in [0, 1]). Outputs are ``uint8`` NumPy arrays:
exactly what an 8-bit PNG of the result holds.

Any size works. IRN needs sides divisible by its scale ``s``, so
:func:`downscale` pads the bottom and right edges by repeating the last
row/column (at most ``s − 1`` pixels); the LR image is then
``⌈H/s⌉ × ⌈W/s⌉``. :func:`upscale` returns ``s ×`` the LR size unless
``size=(H, W)`` asks to crop back to the original (the CLI records it in the
PNG metadata). Large images are processed in tiles (see
:mod:`invimg.rescaling.tiling`), so memory stays bounded.

``model`` is a loaded model, a shipped model name (default ``irn-x{scale}``
and ``irn-color``) or a path to a model card.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..io import quantize_8bit, read_image
from .color import IRNColor, luma
from .compression import IRNJPEG
from .irn import IRN
from .tiling import DEFAULT_MARGIN, DEFAULT_TILE, gaussian_latent, run_tiled

ZMode = Literal["zeros", "gaussian"]
#: Models that rescale (IRN, or IRN with a compression recovery module).
Rescaler = IRN | IRNJPEG
ModelLike = nn.Module | str | os.PathLike[str] | None

#: z = 0 is the default: it is deterministic and, measured with
#: :func:`invimg.rescaling.evaluation.evaluate_rescaling` on the held-out photos,
#: reconstructs better than a Gaussian sample (briefly trained ×2 models: 45.8 vs
#: 18.7 dB Y-PSNR; in IRN training z becomes Gaussian only slowly, and even then the
#: mode of p(z) is the best single guess under a squared-error measure).
DEFAULT_Z: ZMode = "zeros"


# -- inputs --------------------------------------------------------------------


def as_image_tensor(image: Any, *, grey: bool = False) -> Tensor:
    """Any supported image as a ``1×C×H×W`` float32 tensor in [0, 1] (C = 3, or 1 if ``grey``)."""
    t = _raw_tensor(image)
    if t.dim() == 2:
        t = t[None]
    elif t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"expected an H×W, H×W×3 or 3×H×W image, got shape {tuple(t.shape)}")
    t = t[None].float()
    if grey:
        return _single_grey(t)
    return t.expand(1, 3, *t.shape[-2:]).contiguous() if t.shape[1] == 1 else t


def _raw_tensor(image: Any) -> Tensor:
    """Channel-first tensor scaled to [0, 1] from a path, PIL, NumPy or torch input."""
    if isinstance(image, str | os.PathLike):
        image = read_image(image).pixels
    if hasattr(image, "mode") and hasattr(image, "convert"):  # PIL image
        image = np.asarray(image.convert("L" if image.mode in ("L", "I;16") else "RGB"))
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3 and array.shape[2] in (1, 3):
            array = array.transpose(2, 0, 1)
        elif array.ndim == 3:
            raise ValueError(f"expected 1 or 3 channels (H×W×3), got shape {image.shape}")
        if array.dtype == np.uint16:
            array = array.astype(np.float32) / 65535
        return _scaled(torch.from_numpy(np.ascontiguousarray(array)))
    if isinstance(image, Tensor):
        return _scaled(image.detach().cpu())
    raise TypeError(f"expected a PIL image, NumPy array or tensor, got {type(image).__name__}")


def _scaled(t: Tensor) -> Tensor:
    if t.dtype == torch.uint8:
        return t.float() / 255
    if not t.is_floating_point():
        raise TypeError(f"expected uint8, uint16 or float pixels, got {t.dtype}")
    t = t.float()
    if t.numel() and (not torch.isfinite(t).all() or t.min() < -1e-3 or t.max() > 1 + 1e-3):
        raise ValueError("float pixels must be finite and in [0, 1]")
    return t.clamp(0, 1)


def _single_grey(t: Tensor) -> Tensor:
    if t.shape[1] == 1:
        return t
    if torch.equal(t[:, 0], t[:, 1]) and torch.equal(t[:, 1], t[:, 2]):
        return t[:, :1]
    warnings.warn("colorize: the input has colour; using its luma", UserWarning, stacklevel=3)
    return luma(t)


# -- models ----------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, device: str, _version: int) -> nn.Module:
    from ..zoo import load

    return load(name, device=device)


def resolve_model(
    model: ModelLike, default: str, device: str | torch.device | None = None
) -> nn.Module:
    """A ready model (eval mode) from a module, a shipped name or a card path.

    Loaded models are cached; a card path is keyed by its absolute path and
    modification time, so a re-exported card (or the same relative name in
    another folder) is never served stale.
    """
    if isinstance(model, nn.Module):
        return model.eval()
    name = os.fspath(model) if model is not None else default
    path = Path(name)
    if path.suffix in (".json", ".safetensors") and path.is_file():
        return _load_cached(str(path.resolve()), str(device or "cpu"), path.stat().st_mtime_ns)
    return _load_cached(name, str(device or "cpu"), 0)


def _irn(model: ModelLike, scale: int | None, device: str | torch.device | None) -> Rescaler:
    net = resolve_model(model, f"irn-x{scale or 4}", device)
    if not isinstance(net, IRN | IRNJPEG):
        raise ValueError(f"expected an IRN rescaling model, got {type(net).__name__}")
    if scale is not None and net.scale != scale:
        raise ValueError(f"the model rescales ×{net.scale}, but scale={scale} was asked for")
    return net


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# -- rescaling ---------------------------------------------------------------------


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Repeat the last row/column until both sides are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if not pad_h and not pad_w:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")


@torch.no_grad()
def downscale_tensor(
    model: Rescaler | IRNColor,
    hr: Tensor,
    *,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
) -> Tensor:
    """Padded, tiled forward pass; returns the quantised LR (or grey) tensor in [0, 1]."""
    s = model.scale
    x = pad_to_multiple(hr.to(_device(model)), s)
    lr = run_tiled(
        lambda t: model(t)[:, : model.lr_channels],
        x,
        in_scale=s,
        out_scale=1,
        out_channels=model.lr_channels,
        tile=tile,
        margin=margin,
    )
    return torch.round(lr.clamp(0, 1) * 255) / 255


@torch.no_grad()
def upscale_tensor(
    model: Rescaler | IRNColor,
    lr: Tensor,
    *,
    z: ZMode = DEFAULT_Z,
    seed: int = 0,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
) -> Tensor:
    """Tiled inverse pass from an LR tensor in [0, 1] with ``z`` = 0 or N(0, I)."""
    if z not in ("zeros", "gaussian"):
        raise ValueError(f"z must be 'zeros' or 'gaussian', got {z!r}")
    lr = lr.to(_device(model))
    n, _, h, w = lr.shape
    if z == "gaussian":
        latent = gaussian_latent((n, model.z_channels, h, w), seed, lr.device)
    else:
        latent = lr.new_zeros(n, model.z_channels, h, w)
    joint = torch.cat((lr, latent), 1)
    out = run_tiled(
        lambda t: model(t, rev=True),
        joint,
        in_scale=1,
        out_scale=model.scale,
        out_channels=3,
        tile=tile,
        margin=margin,
    )
    return out.clamp(0, 1)


def _to_uint8(t: Tensor) -> np.ndarray:
    return quantize_8bit(t[0].permute(1, 2, 0).cpu().numpy())


def downscale(
    image: Any,
    scale: int | None = None,
    model: ModelLike = None,
    *,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Downscale an image ×``scale`` (default 4) with IRN; ``uint8`` ``⌈H/s⌉×⌈W/s⌉×3``."""
    net = _irn(model, scale, device)
    return _to_uint8(downscale_tensor(net, as_image_tensor(image), tile=tile, margin=margin))


def upscale(
    lr: Any,
    model: ModelLike = None,
    *,
    scale: int | None = None,
    z: ZMode = DEFAULT_Z,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Restore an IRN-downscaled image; ``uint8`` ``s·h × s·w × 3`` (or ``size`` = (H, W))."""
    net = _irn(model, scale, device)
    hr = upscale_tensor(net, as_image_tensor(lr), z=z, seed=seed, tile=tile, margin=margin)
    return _to_uint8(_crop_to(hr, size))


def _crop_to(x: Tensor, size: tuple[int, int] | None) -> Tensor:
    if size is None:
        return x
    h, w = size
    if not (0 < h <= x.shape[-2] and 0 < w <= x.shape[-1]):
        raise ValueError(f"size {h}×{w} does not fit in the {x.shape[-2]}×{x.shape[-1]} output")
    return x[..., :h, :w]


# -- colour --------------------------------------------------------------------------


def _color_model(model: ModelLike, device: str | torch.device | None) -> IRNColor:
    net = resolve_model(model, "irn-color", device)
    if not isinstance(net, IRNColor):
        raise ValueError(f"expected an IRN-Color model, got {type(net).__name__}")
    return net


def decolorize(
    image: Any,
    model: ModelLike = None,
    *,
    tile: int = DEFAULT_TILE * 4,
    margin: int = DEFAULT_MARGIN * 2,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """A grey ``uint8`` ``H×W`` image that carries the colours (IRN-Color)."""
    net = _color_model(model, device)
    grey = downscale_tensor(net, as_image_tensor(image), tile=tile, margin=margin)
    return quantize_8bit(grey[0, 0].cpu().numpy())


def colorize(
    grey: Any,
    model: ModelLike = None,
    *,
    z: ZMode = "zeros",
    seed: int = 0,
    tile: int = DEFAULT_TILE * 4,
    margin: int = DEFAULT_MARGIN * 2,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Restore the colours of a :func:`decolorize` output; ``uint8`` ``H×W×3``."""
    net = _color_model(model, device)
    rgb = upscale_tensor(
        net, as_image_tensor(grey, grey=True), z=z, seed=seed, tile=tile, margin=margin
    )
    return _to_uint8(rgb)
