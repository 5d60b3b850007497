"""``invimg.hide`` / ``invimg.reveal``: hide images in an image, get them back.

>>> stego = invimg.hide(cover, secret)              # uint8 H×W×3, what a PNG holds
>>> [secret_back] = invimg.reveal(stego)

Inputs may be paths, PIL images, NumPy arrays or tensors, as
:func:`invimg.io.as_image_tensor` takes them (``uint8``, ``uint16`` or float
in [0, 1]; colour or grey). Outputs are ``uint8`` H×W×3 arrays: the stego is
exactly what a PNG will store, so what ``reveal`` sees after saving is what
``hide`` returned.

* Any size: images are padded to the network's multiple (reflecting) and
  cropped back; large images are processed in tiles (see :mod:`invimg.tiling`
  for both, and what an odd side costs).
* A secret whose size differs from the cover's is resized to it (bicubic)
  with a ``UserWarning``; ``strict=True`` refuses it instead.
* ``z``: what stands in for the information lost in hiding. ``"zeros"`` is
  the default because it reveals better than a Gaussian sample from the
  8-bit stego although training draws z ~ N(0, 1), as published. Measured
  with ``invimg eval hiding --z both`` on the 8 held-out 256² crops, the
  shipped ``hinet-small`` reveals its secret at 34.26 dB / SSIM 0.941 with
  zeros and 33.44 dB / 0.906 with a Gaussian z (BENCHMARKS.md). Zero is the
  mean of the distribution the network was trained to ignore, so it adds no
  noise.
* Robust models (RIIS, :mod:`invimg.hiding.riis`) reveal from a stego that
  went through a lossy channel: ``reveal(stego, channel="jpeg:75")`` tells
  the model what happened (``"gaussian:2"``, ``"round"`` …, see
  :func:`invimg.distortions.parse_distortion`). Without ``channel``, a JPEG
  *file* reveals with the quality read from its quantisation tables, and
  anything else as an 8-bit PNG. Other models take no ``channel``.
* Metadata: :func:`save_stego` writes the stego with the model that hid it
  (as ``invimg hide`` and the web page do), and ``reveal`` of such a file
  without ``model`` takes that model (a file without it: the default model;
  ``invimg reveal`` then warns).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..distortions import Distortion, estimate_jpeg_quality, parse_distortion
from ..errors import InputImageError, ModelError, UsageError
from ..inference import check_backend, run_graph
from ..io import as_image_tensor, quantize_8bit, read_metadata, to_numpy, write_image
from ..io.images import show_path
from ..io.metadata import KEY_MODEL, KEY_TASK, model_ref, recorded_model, task_metadata
from ..tasks import default_candidates, first_default
from ..tiling import pad_to_multiple, run_tiled
from ..zoo.cards import is_shipped, load_typed
from .base import DEFAULT_Z, Z_MODES, HidingModel, ZMode
from .refine import refine_channels, refine_stego

#: The shipped model used when none is named, by number of secrets: CPU-trained
#: previews, an 8-block HiNet and an 8-block-per-stage DeepMIH (the full ``hinet``
#: and ``deepmih-2`` come later). The CLI, the web page and the demo use them too.
DEFAULT_MODELS = {n: first_default("hiding", str(n)) for n in (1, 2, 3)}
DEFAULT_MODEL = DEFAULT_MODELS[1]
#: Context (pixels) computed around each tile and thrown away. With it, a 384²
#: image in 128² tiles gave the very same 8-bit stego and revealed secret as one
#: piece (small trained HiNet). Peak memory of one piece is in
#: ``benchmarks/speed_hiding.py`` (HiNet: 0.56 GB at 1024², 2.0 GB at 2048²,
#: 0.78 GB at 2048² in 1024² tiles).
TILE_MARGIN = 32

#: How many secrets a stego file holds (beside :mod:`invimg.io.metadata`'s keys).
KEY_SECRETS = "invimg:secrets"

#: Robust models by preference: ``--robust`` takes the first one shipped.
ROBUST_MODELS = default_candidates("hiding", "robust")

ModelLike = str | os.PathLike[str] | HidingModel


class SecretCountError(UsageError):
    """The number of secret images does not match the model (a usage error)."""


def hide(
    cover: Any,
    secrets: Any,
    model: ModelLike | None = None,
    strict: bool = False,
    *,
    tile: int | None = None,
    backend: str | None = None,
    refine: int = 0,
    refine_for: Sequence[str] | None = None,
) -> np.ndarray:
    """Hide ``secrets`` (one image or a list) in ``cover``; return the uint8 stego.

    ``model`` defaults to the shipped model for that many secrets
    (:func:`default_model`); ``tile`` overrides the model's piece size
    (pixels); ``backend`` chooses what runs the network
    (:mod:`invimg.inference.runtime`; default: the fastest exact one);
    ``refine`` > 0 then optimises the stego's pixels for that many steps so
    the model's own reveal reads the secrets better (:mod:`invimg.hiding.refine`;
    eager PyTorch, piece by piece like the hiding); a robust model refines for
    the channels ``refine_for`` names (default ``("round", "jpeg:90", "jpeg:75")``); see
    the module docstring.
    """
    items = list(secrets) if isinstance(secrets, list | tuple) else [secrets]
    net = resolve_model(default_model(len(items)) if model is None else model)
    check_secret_count(len(items), net)
    check_backend(backend)
    refine_for = refine_channels(net, refine, refine_for)
    cover_t = as_image_tensor(cover, "cover")
    size = tuple(cover_t.shape[-2:])
    secret_ts = [
        fit_secret(as_image_tensor(s, f"secret {i}"), size, strict, i)  # type: ignore[arg-type]
        for i, s in enumerate(items, start=1)
    ]
    device = _device_of(net)

    def hide_piece(pieces: list[Tensor]) -> list[Tensor]:
        return run_graph(net, "hide", pieces, backend)

    def refine_piece(pieces: list[Tensor]) -> list[Tensor]:
        cover_p, *secrets_p, stego_p = pieces
        return [refine_stego(net, cover_p, secrets_p, stego_p, refine, refine_for=refine_for)]

    piece = _tile(net, tile)
    with torch.no_grad():
        images = [_padded(t.to(device), net) for t in [cover_t, *secret_ts]]
        (stego,) = run_tiled(hide_piece, images, piece, TILE_MARGIN, net.size_multiple)
        if refine:
            images.append(stego)
            (stego,) = run_tiled(refine_piece, images, piece, TILE_MARGIN, net.size_multiple)
    return quantize_8bit(to_numpy(stego[..., : size[0], : size[1]]))


def reveal(
    stego: Any,
    n: int | None = None,
    model: ModelLike | None = None,
    z: ZMode = DEFAULT_Z,
    seed: int = 0,
    *,
    tile: int | None = None,
    channel: str | Distortion | None = None,
    backend: str | None = None,
) -> list[np.ndarray]:
    """The secret images hidden in ``stego`` (uint8 H×W×3 each, first hidden first).

    ``n`` (optional) is the number of secrets you expect; a model that
    carries another number is an error rather than a silent surprise.
    ``model`` defaults to the one recorded in a stego *file* (see
    :func:`save_stego`), else the shipped model for ``n`` secrets (one if unsaid).
    ``z="gaussian"`` draws the stand-in from N(0, 1) seeded by ``seed``.
    ``channel`` (robust models only): what the stego went through, e.g.
    ``"jpeg:75"``; see the module docstring for the default. ``backend``: as
    for :func:`hide` (a robust model's reveal always runs eagerly).
    """
    if model is None:
        model = _recorded(stego) or default_model(n or 1)
    net = resolve_model(model)
    if n is not None:
        check_secret_count(n, net)
    check_backend(backend)
    if z not in Z_MODES:
        raise UsageError(f"z must be one of {', '.join(Z_MODES)}, got {z!r}")
    condition = reveal_channel(net, stego, channel)
    stego_t = as_image_tensor(stego, "stego")
    h, w = stego_t.shape[-2:]
    generator = torch.Generator().manual_seed(seed)

    def reveal_piece(pieces: list[Tensor]) -> list[Tensor]:
        if net.conditioned_on_channel:
            return net.reveal(pieces[0], z, generator, channel=condition).secrets
        return run_graph(net, "reveal", [pieces[0], *net.make_z(pieces[0], z, generator)], backend)

    with torch.no_grad():
        padded = _padded(stego_t.to(_device_of(net)), net)
        secrets = run_tiled(
            reveal_piece, [padded], _tile(net, tile), TILE_MARGIN, net.size_multiple
        )
    return [quantize_8bit(to_numpy(s[..., :h, :w])) for s in secrets]


def reveal_channel(
    net: HidingModel, stego: Any, channel: str | Distortion | None
) -> Distortion | None:
    """The channel a robust model is told about: given, read from a JPEG file, or None.

    A model that is not conditioned on the channel refuses one (usage error).
    """
    if not net.conditioned_on_channel:
        if channel is not None:
            arch = getattr(net, "architecture", type(net).__name__)
            raise UsageError(f"model {arch!r} is not a robust model: it takes no channel")
        return None
    if isinstance(channel, Distortion):
        return channel
    spec = channel if channel is not None else guess_channel(stego)
    if spec is None:
        return None
    try:
        return parse_distortion(spec)
    except ValueError as exc:
        raise UsageError(f"channel: {exc}") from None


def guess_channel(source: Any) -> str | None:
    """``"jpeg:Q"`` for a JPEG file or PIL image (Q from its tables), else None."""
    from PIL import Image

    if isinstance(source, str | os.PathLike):
        try:
            with Image.open(source) as image:
                return guess_channel(image)
        except OSError:
            return None  # the image reader reports unreadable files with a proper message
    if isinstance(source, Image.Image) and source.format == "JPEG":
        tables = getattr(source, "quantization", None)
        if tables:
            return f"jpeg:{estimate_jpeg_quality(tables)}"
    return None


def default_model(secrets: int) -> str:
    """The shipped model for ``secrets`` secret images (:data:`DEFAULT_MODELS`)."""
    if secrets not in DEFAULT_MODELS:
        counts = ", ".join(f"{n} ({name})" for n, name in DEFAULT_MODELS.items())
        raise SecretCountError(
            f"no shipped model hides {secrets} secret images (shipped: {counts}); pass "
            "--model with a DeepMIH model trained for that many (num_secrets in its recipe)"
        )
    return DEFAULT_MODELS[secrets]


def default_robust_model() -> str:
    """The first shipped model of :data:`ROBUST_MODELS`, for ``invimg hide --robust``."""
    for name in ROBUST_MODELS:
        if is_shipped(name):
            return name
    raise ModelError(
        "no robust hiding model is shipped yet; train one "
        "(python -m invimg.training src/invimg/training/recipes/riis-small-cpu.yaml) "
        "and pass its card with --model"
    )


def resolve_model(model: ModelLike) -> HidingModel:
    """A hiding model from a shipped name, a card path, a model object, or a
    published HiNet checkpoint (``.pt``/``.pth``, read by the loader
    :mod:`invimg.hiding.published` registers with the zoo), so weights trained
    with the published code work with ``--model`` as they are.
    """
    return load_typed(model, HidingModel, "hiding")


def stego_metadata(model: str | os.PathLike[str], net: HidingModel) -> dict[str, str]:
    """What a stego file records: the model that hid it, and how many secrets it holds."""
    return {KEY_TASK: "hiding", KEY_MODEL: model_ref(model), KEY_SECRETS: str(net.num_secrets)}


def save_stego(
    path: str | os.PathLike[str],
    stego: np.ndarray,
    model: str | os.PathLike[str] | None = None,
    *,
    secrets: int = 1,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
    jpeg_quality: int = 90,
) -> Path:
    """Write ``stego`` (from :func:`hide`) with the metadata :func:`reveal` reads back.

    ``model`` is the one given to ``hide`` (default: the shipped model for
    ``secrets``). Why: a stego revealed with another model gives noise, so
    the file says which model made it, whoever wrote it (API, CLI or web).
    """
    spec = default_model(secrets) if model is None else model
    meta = stego_metadata(spec, resolve_model(spec))
    return write_image(
        path, stego, force=force, inputs=inputs, metadata=meta, jpeg_quality=jpeg_quality
    )


def recorded_hiding_model(stego: Any, secrets: int | None = None) -> str:
    """The model recorded by ``hide`` in the stego file's metadata, else the default (warned)."""
    meta = read_metadata(stego)
    task = meta.get(KEY_TASK)
    if task is not None and task != "hiding":
        raise InputImageError(
            f"{show_path(stego)} was written by `invimg` for {task!r}, not hiding"
        )
    recorded = recorded_model(meta, stego)
    if recorded is None:
        fallback = default_model(secrets or 1)
        warnings.warn(
            f"{show_path(stego)} carries no `invimg hide` metadata (re-saved by another "
            f"program?); revealing with {fallback}: if that is not the model that hid "
            "it, the result is noise (pass --model)",
            UserWarning,
            stacklevel=2,
        )
        return fallback
    return recorded


def _recorded(stego: Any) -> str | None:
    """The model a stego *file* records (None for pixels, or a file without metadata)."""
    if not isinstance(stego, str | os.PathLike):
        return None
    return recorded_model(task_metadata(stego, "hiding"), stego)


def check_secret_count(count: int, net: HidingModel) -> None:
    """Refuse a number of secrets the model cannot carry, naming what it can."""
    if count != net.num_secrets:
        arch = getattr(net, "architecture", type(net).__name__)
        raise SecretCountError(
            f"model {arch!r} hides exactly {net.num_secrets} secret image(s), got {count}"
        )


def fit_secret(secret: Tensor, size: tuple[int, int], strict: bool, index: int) -> Tensor:
    """Resize a secret to the cover's size (warning), or refuse it when ``strict``."""
    if tuple(secret.shape[-2:]) == size:
        return secret
    got = f"{secret.shape[-1]}×{secret.shape[-2]}"
    want = f"{size[1]}×{size[0]}"
    if strict:
        raise InputImageError(
            f"secret {index} is {got} px but the cover is {want} px "
            "(strict: resize it yourself, or drop --strict)"
        )
    warnings.warn(
        f"secret {index} is {got} px; resized to the cover's {want} px "
        "(it will be revealed at that size)",
        UserWarning,
        stacklevel=3,
    )
    resized = F.interpolate(secret, size=size, mode="bicubic", align_corners=False, antialias=True)
    return resized.clamp(0, 1)


def _padded(image: Tensor, net: HidingModel) -> Tensor:
    """Pad to the network's multiple, reflecting: the padded rows continue the texture."""
    return pad_to_multiple(image, net.size_multiple, mode="reflect")


def _device_of(net: HidingModel) -> torch.device:
    param = next(net.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _tile(net: HidingModel, tile: int | None) -> int | None:
    if tile is not None:
        if tile <= 0 or tile % net.size_multiple:
            raise UsageError(f"tile must be a positive multiple of {net.size_multiple}")
        return tile
    return net.max_piece
