"""``invimg.inversion.invert``: what does a representation remember of an image?

>>> out = invert("photo.png", "hog")                      # uint8 H×W×3: the HOG pre-image
>>> out = invert("photo.png", "torch:runs/rotnet-small/rotnet-small.json:conv3")
>>> feats = features_of("photo.png", "dsift")             # Φ0, to save or share
>>> out = invert(target=feats, features="dsift", size=(256, 256))

``image`` may be a path, a PIL image, a NumPy array or a tensor (as
:func:`invimg.io.as_image_tensor` takes them); ``features`` a spec string
(:mod:`invimg.inversion.specs`) or a :class:`Representation` (any
``TorchFeatures(net, layer)``). Instead of an image, ``target`` gives Φ0
directly (``(C, h, w)`` or ``(1, C, h, w)``) with the image ``size`` (H, W).

The result is what an 8-bit PNG holds. HOG and SIFT ignore brightness and
contrast, so their pre-images are stretched to the full range as the authors
show them; a CNN's pre-image is clipped to [0, 1]. Grey representations give
grey images (three equal channels).

``method="decoder"`` answers with the learned baseline
(:class:`~invimg.inversion.decoder.HOGDecoder`, shipped as ``hog-decoder``)
in one forward pass instead of optimising; only for the HOG it was trained on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import Tensor

from ..errors import InputImageError, InvimgError, ModelError, UsageError
from ..inference import check_backend, run_graph
from ..io import as_image_tensor, quantize_8bit
from ..io.metadata import KEY_TASK
from ..tasks import first_default
from .decoder import HOGDecoder
from .evaluation import relative_error
from .hog import HOG
from .optimizer import PRESETS, Preset, reconstruct
from .representation import Representation
from .specs import representation
from .torch_features import TorchFeatures

Method = Literal["optimise", "decoder"]
DEFAULT_DECODER = first_default("inversion", "decoder")

#: The representation an inverted image was made from (beside :mod:`invimg.io.metadata`'s keys).
KEY_FEATURES = "invimg:features"


def inversion_metadata(features: str) -> dict[str, str]:
    """What an inverted image records: the representation (spec) it was inverted from."""
    return {KEY_TASK: "inversion", KEY_FEATURES: features}


@dataclass
class Inversion:
    """One reconstruction and how well its representation matches the target."""

    #: uint8 H×W×3: exactly what a PNG of the result holds.
    image: np.ndarray
    #: The optimised image, (1, C, H, W) in [0, 1] units, neither clipped nor stretched.
    raw: Tensor
    #: IJCV relative error ‖Φ(x*) − Φ0‖ / ‖Φ0‖ in %, of ``image`` (the 8-bit result).
    relative_error: float
    #: Φ(x*) of ``image`` and the target Φ0 (for other measures, e.g. the CVPR one).
    features: Tensor
    target: Tensor
    seconds: float


def to_pixels(images: Tensor, stretch: bool) -> np.ndarray:
    """``(N, C, H, W)`` in [0, 1] units → uint8 ``(N, H, W, 3)``: stretched per image or clipped."""
    x = images.detach().float().cpu()
    if stretch:
        low = x.flatten(1).min(1).values.view(-1, 1, 1, 1)
        high = x.flatten(1).max(1).values.view(-1, 1, 1, 1)
        x = (x - low) / (high - low).clamp_min(1e-8)
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
    return quantize_8bit(x.permute(0, 2, 3, 1).numpy())


def resolve(
    features: str | Representation,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Representation:
    """A :class:`Representation` from a spec string (or the object itself)."""
    if isinstance(features, Representation):
        return features
    if not isinstance(features, str):
        raise UsageError(f"features must be a spec string or a Representation, got {features!r}")
    return representation(features, mean=mean, std=std)


def features_of(
    image: Any,
    features: str | Representation = "hog",
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Tensor:
    """Φ0 of ``image``: ``(1, C, h, w)`` (or whatever shape the layer gives), float32."""
    rep = resolve(features, mean, std)
    return image_features(rep, as_image_tensor(image, "image"))


def image_features(rep: Representation, pixels: Tensor) -> Tensor:
    """Φ0 of an input image, refusing one that Φ is not defined on with one clear line.

    An image smaller than a HOG cell (or than a network's kernels) is an
    unusable input (exit 3), not a crash inside ``forward``.
    """
    h, w = int(pixels.shape[-2]), int(pixels.shape[-1])
    need = rep.min_size()
    if min(h, w) < need:
        raise InputImageError(
            f"a {w}×{h} image is too small for {rep.label}: each side needs at least {need} pixels"
        )
    if not isinstance(rep, TorchFeatures):
        return rep.features(pixels)
    try:
        return rep.features(pixels)
    except InvimgError:
        raise
    except (RuntimeError, ValueError) as exc:  # e.g. a kernel larger than the image
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputImageError(
            f"cannot compute {rep.label} of a {w}×{h} image (too small for this network?): {reason}"
        ) from None


def run_inversion(
    image: Any = None,
    features: str | Representation = "hog",
    *,
    target: Tensor | None = None,
    size: tuple[int, int] | None = None,
    method: Method = "optimise",
    preset: str | Preset = "ijcv2016",
    loss_weight: float | None = None,
    iterations: int | None = None,
    seed: int = 0,
    progress: bool = False,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    decoder: str | os.PathLike[str] | HOGDecoder = DEFAULT_DECODER,
    backend: str | None = None,
) -> Inversion:
    """Reconstruct an image from ``image``'s representation (or from ``target``); see the module.

    ``backend`` chooses what runs the decoder (:mod:`invimg.inference.runtime`);
    the optimiser always runs in PyTorch (it needs gradients).
    """
    check_backend(backend)
    rep = resolve(features, mean, std)
    target, size = _target_and_size(rep, image, target, size)
    if isinstance(rep, TorchFeatures):
        rep.measure_stride(*size)
    started = time.perf_counter()
    if method == "decoder":
        raw = _decode(rep, target, size, decoder, backend)
    elif method == "optimise":
        chosen = _preset(preset, loss_weight, iterations)
        raw = reconstruct(rep, target, size, chosen, seed=seed, progress=progress).images
    else:
        raise UsageError(f"method must be 'optimise' or 'decoder', got {method!r}")
    seconds = time.perf_counter() - started
    pixels = to_pixels(raw, rep.contrast_invariant)
    saved = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    phi = rep.features(saved)
    error = float(relative_error(phi, target)[0])
    return Inversion(pixels[0], raw, error, phi, target, seconds)


def invert(image: Any = None, features: str | Representation = "hog", **options: Any) -> np.ndarray:
    """The uint8 H×W×3 pre-image; options as :func:`run_inversion`."""
    return run_inversion(image, features, **options).image


def _preset(preset: str | Preset, loss_weight: float | None, iterations: int | None) -> Preset:
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise UsageError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        preset = PRESETS[preset]
    if loss_weight is not None:
        if loss_weight <= 0:
            raise UsageError(f"the loss weight C must be > 0, got {loss_weight}")
        preset = replace(preset, loss_weight=loss_weight)
    if iterations is not None:
        if iterations < len(preset.phases):
            raise UsageError(f"iterations must be >= {len(preset.phases)}, got {iterations}")
        preset = preset.scaled(iterations / preset.iterations)
    return preset


def _target_and_size(
    rep: Representation, image: Any, target: Tensor | None, size: tuple[int, int] | None
) -> tuple[Tensor, tuple[int, int]]:
    if (image is None) == (target is None):
        raise UsageError("give either an image or a target feature tensor, not both or neither")
    if image is not None:
        pixels = as_image_tensor(image, "image")
        return image_features(rep, pixels), (int(pixels.shape[-2]), int(pixels.shape[-1]))
    assert target is not None
    if size is None:
        raise UsageError("inverting a feature tensor needs the image size (H, W)")
    t = target.detach().float()
    return (t.unsqueeze(0) if t.ndim in (1, 3) else t), _checked_size(rep, t, size)


def _checked_size(rep: Representation, target: Tensor, size: tuple[int, int]) -> tuple[int, int]:
    """Refuse a size at which Φ would not give ``target``'s shape (a wrong size or spec)."""
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise UsageError(f"image size must be positive, got {size}")
    probe = torch.full((1, rep.in_channels, h, w), 0.5)
    try:
        with torch.no_grad():
            shape = tuple(rep(probe).shape[1:])
    except (ValueError, RuntimeError) as exc:
        raise UsageError(f"an image of {w}×{h} does not fit these features: {exc}") from None
    expected = tuple(target.shape[-len(shape) :])
    if shape != expected:
        raise InputImageError(
            f"features of shape {expected} do not come from a {w}×{h} image with "
            f"{rep.label} (that gives {shape})"
        )
    return h, w


def _decode(
    rep: Representation,
    target: Tensor,
    size: tuple[int, int],
    decoder: str | os.PathLike[str] | HOGDecoder,
    backend: str | None,
) -> Tensor:
    from ..zoo import load

    net = decoder if isinstance(decoder, HOGDecoder) else load(decoder)
    if not isinstance(net, HOGDecoder):
        raise ModelError(f"model {decoder!r} is a {type(net).__name__}, not a HOG decoder")
    hog = cast(HOGDecoder, net).hog()
    if not (isinstance(rep, HOG) and (rep.cell_size, rep.binning) == (hog.cell_size, hog.binning)):
        raise UsageError(
            f"the decoder inverts {hog.label} with cells of {hog.cell_size}; "
            f"it cannot invert {rep.label}"
        )
    decoding = cast(HOGDecoder, net)
    return decoding.display(run_graph(decoding, "decode", [target], backend)[0], size)
