"""Task API: ``downscale`` / ``upscale`` and ``decolorize`` / ``colorize`` for any image.

>>> small = invimg.downscale(photo, scale=2)            # uint8 ⌈H/2⌉×⌈W/2⌉×3
>>> big = invimg.upscale(small, scale=2, size=photo.shape[:2])
>>> grey = invimg.decolorize(photo)                     # uint8 H×W
>>> colour = invimg.colorize(grey)

Inputs may be a file path, a PIL image, a NumPy array or a tensor, as
:func:`invimg.io.as_image_tensor` takes them (``uint8``, ``uint16`` or float in
[0, 1]; colour or grey). Outputs are ``uint8`` NumPy arrays: exactly what an
8-bit PNG of the result holds.

Any size works. IRN needs sides divisible by its scale ``s``, so
:func:`downscale` pads the bottom and right edges by repeating the last
row/column (at most ``s − 1`` pixels); the LR image is then
``⌈H/s⌉ × ⌈W/s⌉``. :func:`upscale` returns ``s ×`` the LR size unless
``size=(H, W)`` asks to crop back to the original (:func:`save_lr`, the CLI and
the web page record it in the PNG metadata, and ``upscale`` of such a file
uses it).

Large images are processed in tiles (:func:`invimg.tiling.run_tiled`) laid
out on the **LR grid** (HR pixels are ``s × s`` blocks of it), so ``tile``
and ``margin`` are in LR pixels whichever way the image goes. A 2048×1536
photo through IRN ×4 in one piece needs about 1 GB of activations (the dense
blocks hold 137 feature maps at a quarter of the pixel count); tiles keep that
bounded whatever the photo size. The margin needed for an exact result is
:func:`invimg.rescaling.irn.receptive_radius`; trained models need far less
(:data:`DEFAULT_MARGIN`). A Gaussian ``z`` is drawn once for the whole image
and sliced, so Gaussian upscaling does not depend on the tiling either.

``model`` is a loaded model, a shipped model name or a path to a model card;
by default the shipped model for the scale (:func:`default_rescaling_model`)
and for colour (:func:`default_color_model`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import UsageError, WrongModelError
from ..inference import check_backend, run_graph
from ..io import as_image_tensor, quantize_8bit, write_image
from ..io.metadata import KEY_MODEL, KEY_TASK, model_ref, recorded_model, task_metadata
from ..tasks import default_candidates, first_default
from ..tiling import pad_to_multiple, run_tiled
from ..zoo.cards import Kinds, first_shipped, inference_setting, load_typed
from .color import IRNColor
from .compression import IRNJPEG
from .irn import IRN

ZMode = Literal["zeros", "gaussian"]
#: Models that rescale (IRN, or IRN with a compression recovery module).
Rescaler = IRN | IRNJPEG
RESCALERS = (IRN, IRNJPEG)
ModelLike = nn.Module | str | os.PathLike[str] | None

#: The default rescaling model: the shipped ×2 IRN trained with z = 0 (``irn-x2``).
DEFAULT_MODEL = first_default("rescaling", "first")
#: The scale when neither ``scale`` nor ``model`` is given: that of :data:`DEFAULT_MODEL`.
DEFAULT_SCALE = 2

#: The latent used when neither the caller nor the model's card chooses one.
#: Each shipped card records the better of z = 0 and a Gaussian z measured on
#: the held-out photos (``inference.z``, written by ``benchmarks/ship_model.py``):
#: a fully trained IRN makes z Gaussian and its mode 0 is then the best single
#: guess under a squared error, but early in training IRN reconstructs from
#: *sampled* z and a zero z can be far worse (``irn-x2-small``: 22.9 vs 31.5 dB).
DEFAULT_Z: ZMode = "zeros"

#: LR pixels per tile side (core). 128 LR px = 512 HR px at ×4: IRN ×4 then peaks at
#: about 250 MB whatever the photo size (measured at 1024×768: 250 MB tiled, 450–500 MB
#: in one piece; one piece at 2048×1536 would need about 2 GB).
DEFAULT_TILE = 128
#: LR pixels of context per side (64 HR px at ×4): the smallest margin measured
#: exact for the shipped models (``benchmarks/speed_rescaling.py --deviation 512``):
#: with margin 16 the LR and the HR of ``irn-x2`` and of ``irn-x2-small`` are identical
#: to the untiled ones (IRN ×4, published random checkpoint: LR identical, HR within 1
#: level, session 4); margin 8 already moves ``irn-x2-small``'s LR by a level.
#: 16 is also ≈ 25 % faster than 32 (BENCHMARKS.md, "IRN ×4 on a 2048×1536 photo").
DEFAULT_MARGIN = 16


# -- models ----------------------------------------------------------------------


def resolve_model(
    model: ModelLike,
    default: str,
    device: str | torch.device | None = None,
    kind: Kinds[Any] = nn.Module,
    what: str = "rescaling",
) -> Any:
    """A ready ``kind`` model (eval mode) from a module, a shipped name or a card path.

    ``default`` stands in for ``model=None``. Loading, caching and the type
    check are the zoo's (:func:`invimg.zoo.cards.load_typed`); a module
    given as such is put in eval mode, as a loaded one is.
    """
    if isinstance(model, nn.Module):
        model.eval()
    return load_typed(default if model is None else model, kind, what, device)


def default_rescaling_model(scale: int | None = None) -> str:
    """The shipped model for ×``scale`` (default :data:`DEFAULT_SCALE`).

    The first of ``irn-x{s}``, ``irn-x{s}-small`` that is shipped: the small
    CPU-trained models ship first, and a full model shipped later takes over
    without a code change.
    """
    s = scale or DEFAULT_SCALE
    return first_shipped(default_candidates("rescaling", "scale", scale=s), f"×{s} rescaling model")


def _irn(model: ModelLike, scale: int | None, device: str | torch.device | None) -> Rescaler:
    default = default_rescaling_model(scale) if model is None else DEFAULT_MODEL
    net: Rescaler = resolve_model(model, default, device, RESCALERS, "rescaling (IRN)")
    if scale is not None and net.scale != scale:
        raise WrongModelError(f"the model rescales ×{net.scale}, but scale={scale} was asked for")
    return net


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# -- rescaling ---------------------------------------------------------------------


@torch.no_grad()
def downscale_tensor(
    model: Rescaler | IRNColor,
    hr: Tensor,
    *,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
    backend: str | None = None,
) -> Tensor:
    """Padded, tiled forward pass; returns the quantised LR (or grey) tensor in [0, 1].

    ``backend`` chooses what runs the network (:mod:`invimg.inference.runtime`).
    """
    s, m = model.scale, _size_multiple(model)
    h, w = hr.shape[-2:]
    x = pad_to_multiple(hr.to(_device(model)), s * m, mode="replicate")
    (lr,) = run_tiled(
        lambda t: run_graph(model, "down", t, backend),
        [x],
        tile * s,  # LR pixels → HR pixels
        margin * s,
        s * m,
        Fraction(1, s),
    )
    lr = lr[..., : -(-h // s), : -(-w // s)]  # the padding to the model's multiple goes again
    return torch.round(lr.clamp(0, 1) * 255) / 255


def _size_multiple(model: nn.Module) -> int:
    """What the network's input sides must divide by, beyond the scale (Haar IRN-Color: 2)."""
    return int(getattr(model, "size_multiple", 1))


@torch.no_grad()
def upscale_tensor(
    model: Rescaler | IRNColor,
    lr: Tensor,
    *,
    z: ZMode = DEFAULT_Z,
    seed: int = 0,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
    backend: str | None = None,
) -> Tensor:
    """Tiled inverse pass from an LR tensor in [0, 1] with ``z`` = 0 or N(0, I)."""
    if z not in ("zeros", "gaussian"):
        raise UsageError(f"z must be 'zeros' or 'gaussian', got {z!r}")
    m = _size_multiple(model)
    _, _, h0, w0 = lr.shape
    lr = pad_to_multiple(lr.to(_device(model)), m, mode="replicate")
    n, _, h, w = lr.shape
    if z == "gaussian":
        latent = gaussian_latent((n, model.z_channels, h, w), seed, lr.device)
    else:
        latent = lr.new_zeros(n, model.z_channels, h, w)
    joint = torch.cat((lr, latent), 1)
    (out,) = run_tiled(
        lambda t: run_graph(model, "up", t, backend), [joint], tile, margin, m, model.scale
    )
    return out[..., : h0 * model.scale, : w0 * model.scale].clamp(0, 1)


def gaussian_latent(shape: tuple[int, ...], seed: int, device: torch.device) -> Tensor:
    """A reproducible N(0, I) sample drawn on the CPU (identical on every device)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen).to(device)


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
    backend: str | None = None,
) -> np.ndarray:
    """Downscale an image ×``scale`` (default: the model's, else 2) with IRN.

    Returns ``uint8`` ``⌈H/s⌉×⌈W/s⌉×3``. ``backend``: see :func:`downscale_tensor`.
    """
    check_backend(backend)
    net = _irn(model, scale, device)
    hr = as_image_tensor(image, "image")
    return _to_uint8(downscale_tensor(net, hr, tile=tile, margin=margin, backend=backend))


def default_z(model: nn.Module) -> ZMode:
    """The latent the model's card records as better (``inference.z``), else :data:`DEFAULT_Z`."""
    value = inference_setting(model, "z")
    return value if value in ("zeros", "gaussian") else DEFAULT_Z


def upscale(
    lr: Any,
    model: ModelLike = None,
    *,
    scale: int | None = None,
    z: ZMode | None = None,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
    device: str | torch.device | None = None,
    backend: str | None = None,
) -> np.ndarray:
    """Restore an IRN-downscaled image; ``uint8`` ``s·h × s·w × 3`` (or ``size`` = (H, W)).

    ``z`` defaults to the model's own choice (:func:`default_z`); ``backend``:
    see :func:`downscale_tensor`. A file written by :func:`save_lr` (or
    ``invimg downscale``) brings its model and original size, used unless given.
    """
    check_backend(backend)
    meta = task_metadata(lr, "rescaling") if isinstance(lr, str | os.PathLike) else {}
    if model is None and meta:
        model = recorded_rescaling_model(meta, lr, scale)
    net = _irn(model, scale, device)
    z = z or default_z(net)
    lr_t = as_image_tensor(lr, "lr")
    size = size or recorded_size(meta, tuple(lr_t.shape[-2:]), net.scale)
    hr = upscale_tensor(net, lr_t, z=z, seed=seed, tile=tile, margin=margin, backend=backend)
    return _to_uint8(_crop_to(hr, size))


def _crop_to(x: Tensor, size: tuple[int, int] | None) -> Tensor:
    if size is None:
        return x
    h, w = size
    if not (0 < h <= x.shape[-2] and 0 < w <= x.shape[-1]):
        raise ValueError(f"size {h}×{w} does not fit in the {x.shape[-2]}×{x.shape[-1]} output")
    return x[..., :h, :w]


# -- colour --------------------------------------------------------------------------


#: Colour models by preference: the full model once trained, else the CPU preview.
COLOR_MODELS = default_candidates("rescaling", "colour")


def default_color_model() -> str:
    """The first of :data:`COLOR_MODELS` that is shipped (as for the scales)."""
    return first_shipped(COLOR_MODELS, "colour model")


def _color_model(model: ModelLike, device: str | torch.device | None) -> IRNColor:
    default = default_color_model() if model is None else COLOR_MODELS[0]
    net: IRNColor = resolve_model(model, default, device, IRNColor, "colour (IRN-Color)")
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
    grey = downscale_tensor(net, as_image_tensor(image, "image"), tile=tile, margin=margin)
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
        net, as_image_tensor(grey, "grey", grey=True), z=z, seed=seed, tile=tile, margin=margin
    )
    return _to_uint8(rgb)


# -- metadata ---------------------------------------------------------------------

#: The scale and original size an LR file records (beside :mod:`invimg.io.metadata`'s keys).
KEY_SCALE, KEY_SIZE = "invimg:scale", "invimg:size"


def rescaling_model(spec: ModelLike, kind: Literal["rescaling", "color"] = "rescaling") -> Any:
    """The model ``spec`` checked to do ``kind`` (a wrong model is one :class:`WrongModelError`)."""
    if kind == "rescaling":
        return resolve_model(spec, "", kind=RESCALERS, what="rescaling (IRN or IRNJPEG)")
    return resolve_model(spec, "", kind=IRNColor, what="colour (IRNColor)")


def lr_metadata(
    model: str | os.PathLike[str], net: Rescaler, size: tuple[int, int]
) -> dict[str, str]:
    """What an LR file records: its model, scale and the original (H, W), for :func:`upscale`."""
    h, w = size
    return {
        KEY_TASK: "rescaling",
        KEY_MODEL: model_ref(model),
        KEY_SCALE: str(net.scale),
        KEY_SIZE: f"{w}x{h}",
    }


def grey_metadata(model: str | os.PathLike[str]) -> dict[str, str]:
    """What a decolorized file records: the model whose colours it hides."""
    return {KEY_TASK: "decolorization", KEY_MODEL: model_ref(model)}


def save_lr(
    path: str | os.PathLike[str],
    lr: np.ndarray,
    size: tuple[int, int],
    model: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``lr`` (from :func:`downscale` of an H×W image, ``size`` = (H, W)) with its metadata.

    ``model`` is the one given to ``downscale`` (default: the shipped ×2 one).
    Why: :func:`upscale` of the file then takes that model and gives back
    exactly H×W, whoever wrote it (API, CLI or web).
    """
    spec = default_rescaling_model() if model is None else model
    net = rescaling_model(spec)
    quality = getattr(net, "jpeg_quality", None) or 95
    meta = lr_metadata(spec, net, size)
    return write_image(path, lr, force=force, inputs=inputs, metadata=meta, jpeg_quality=quality)


def recorded_scale(meta: Mapping[str, str]) -> int | None:
    """The scale an LR file records (None if absent or unreadable)."""
    return _int_or_none(meta.get(KEY_SCALE))


def recorded_rescaling_model(
    meta: Mapping[str, str], image: str | os.PathLike[str], scale: int | None
) -> str:
    """The model to upscale a file with: the one it records (unless another scale is
    asked for), else the shipped model for the scale asked or recorded."""
    recorded = recorded_scale(meta)
    spec = recorded_model(meta, image) if scale in (None, recorded) else None
    return spec or default_rescaling_model(scale or recorded)


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def recorded_size(
    meta: Mapping[str, str], lr_hw: tuple[int, ...], scale: int
) -> tuple[int, int] | None:
    """The original (H, W) if recorded and consistent with this LR image and scale."""
    w_text, _, h_text = meta.get(KEY_SIZE, "").partition("x")
    h, w = _int_or_none(h_text), _int_or_none(w_text)
    if h is None or w is None:
        return None
    if -(-h // scale) != lr_hw[0] or -(-w // scale) != lr_hw[1]:
        warnings.warn(
            f"recorded size {w}×{h} does not match this image at ×{scale}; ignoring it",
            UserWarning,
            stacklevel=2,
        )
        return None
    return h, w
