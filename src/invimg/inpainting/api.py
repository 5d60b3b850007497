"""``invimg.inpaint``: many plausible completions of a hole, and a contact sheet of them.

>>> samples = inpaint(photo, mask, n=8, seed=0)     # list of uint8 H×W×3 arrays
>>> sheet = contact_sheet(photo, mask, samples)

``mask`` is an image of the photo's size whose white pixels are the hole
(see :func:`invimg.inpainting.masks.load_mask` for grey and colour masks).
Every sample keeps the known pixels exactly: they are the input's 8-bit
pixels, bit for bit; only the hole is drawn.

* Seeds: sample ``i`` of seed ``s`` uses its own latent drawn from
  ``SeedSequence([s, i])``, so the same ``(seed, i)`` gives the same sample
  whatever ``n`` is, and different seeds give different samples.
* Sizes: the networks are fully convolutional; the image is padded
  (reflected, padding counted as known) to a multiple of the model's
  ``size_multiple`` (32) and cropped back. An image whose long side exceeds
  ``max_side`` (default 1024, the scale of the training photos) is inpainted
  on a copy resized to that long side and the fill is resized back (bicubic)
  into the hole. Tiling is not used: a tile lying inside a large hole would
  have no context to complete it from.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import Tensor

from ..errors import InputImageError, UsageError, WrongModelError
from ..inference import check_backend, run_graph
from ..io import as_image_tensor, quantize_8bit, to_numpy
from ..io.metadata import KEY_MODEL, KEY_TASK, model_ref
from ..tasks import first_default
from ..tiling import PadMode, pad_to_multiple
from ..zoo.cards import inference_setting, load_typed
from .masks import known_from_hole, load_mask
from .pdgan import PDGAN

#: The shipped PD-GAN (CPU-trained; see its card and BENCHMARKS.md).
DEFAULT_MODEL = first_default("inpainting", "sampler")
#: Longest side inpainted at native resolution (larger images are resized, see above).
DEFAULT_MAX_SIDE = 1024
MAX_SAMPLES = 64
MAX_STRENGTH = 4.0

ModelLike = str | os.PathLike[str] | PDGAN
#: The name of the contact sheet written beside the samples.
SHEET_NAME = "contact_sheet.png"


def sample_names(n: int) -> list[str]:
    """File names of ``n`` samples, in the order they are drawn (CLI and web alike)."""
    return [f"sample_{i:02d}.png" for i in range(n)]


def sample_metadata(model: str | os.PathLike[str], seed: int) -> dict[str, str]:
    """What a sample file records: the model and the seed that drew it (to draw it again)."""
    return {KEY_TASK: "inpainting", KEY_MODEL: model_ref(model), "invimg:seed": str(seed)}


def resolve_model(model: ModelLike) -> PDGAN:
    """A PD-GAN module from a shipped name, a card path or the module itself."""
    if isinstance(model, PDGAN):
        return model.eval()  # spectral norm must not update its estimate between samples
    if isinstance(model, torch.nn.Module):
        raise WrongModelError(f"{type(model).__name__} is not a PD-GAN model")
    return load_typed(model, PDGAN, "PD-GAN")


def default_strength(net: PDGAN) -> float:
    """The strength recorded in the model's card (``inference.strength``), else 1."""
    value = inference_setting(net, "strength")
    return float(value) if isinstance(value, int | float) else 1.0


def latent(net: PDGAN, height: int, width: int, seed: int, index: int) -> Tensor:
    """The latent of sample ``index`` for ``seed`` (independent of how many are drawn)."""
    state = np.random.SeedSequence([seed, index]).generate_state(2)
    generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    return torch.randn(1, *net.latent_shape(height, width), generator=generator)


def inpaint(
    image: Any,
    mask: Any,
    n: int = 8,
    seed: int = 0,
    model: ModelLike = DEFAULT_MODEL,
    *,
    strength: float | None = None,
    max_side: int = DEFAULT_MAX_SIDE,
    backend: str | None = None,
) -> list[np.ndarray]:
    """``n`` completions of ``image`` where ``mask`` is white, as uint8 H×W×3 arrays.

    ``strength`` scales how far samples depart from the prior's completion
    (0: every sample is the prior; 1: as trained); ``None`` takes the
    model's recommended value (its card's ``inference.strength``, else 1).
    ``backend`` chooses what runs the generator (:mod:`invimg.inference.runtime`).
    """
    check_backend(backend)
    if not 1 <= n <= MAX_SAMPLES:
        raise UsageError(f"n must be between 1 and {MAX_SAMPLES}, got {n}")
    if seed < 0:
        raise UsageError(f"seed must be >= 0, got {seed}")
    net = resolve_model(model)
    strength = default_strength(net) if strength is None else strength
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise UsageError(f"strength must be between 0 and {MAX_STRENGTH}, got {strength}")
    image_t = as_image_tensor(image, "image")
    h, w = image_t.shape[-2:]
    hole = load_mask(mask, (h, w))
    check_hole(hole)
    known = known_from_hole(hole)
    original = quantize_8bit(to_numpy(image_t))
    device = next(net.parameters()).device
    with torch.no_grad():
        work, work_known = _working_copy(image_t, known, max_side)
        fills = _samples(net, work.to(device), work_known.to(device), seed, n, strength, backend)
    results = []
    for fill in fills:
        if fill.shape[-2:] != (h, w):
            fill = F.interpolate(fill, size=(h, w), mode="bicubic", align_corners=False)
        drawn = quantize_8bit(to_numpy(fill.clamp(0, 1)))
        results.append(np.where(hole[..., None], drawn, original))
    return results


def check_hole(hole: np.ndarray) -> None:
    """Refuse a mask with no hole, or one that hides the whole image."""
    if not hole.any():
        raise InputImageError("the mask has no hole: white pixels mark what to fill")
    if hole.all():
        raise InputImageError("the mask covers the whole image: nothing is left to complete")
    if hole.mean() > 0.9:
        warnings.warn(
            f"the hole covers {100 * hole.mean():.0f}% of the image; white marks the pixels "
            "to fill (an inverted mask?)",
            UserWarning,
            stacklevel=3,
        )


def _working_copy(image: Tensor, known: Tensor, max_side: int) -> tuple[Tensor, Tensor]:
    """The image and mask the networks see: resized if the long side exceeds ``max_side``."""
    h, w = image.shape[-2:]
    if max(h, w) <= max_side:
        return image, known
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = F.interpolate(image, size=size, mode="bicubic", antialias=True, align_corners=False)
    small_known = (F.interpolate(known, size=size, mode="area") > 0.999).float()
    return small.clamp(0, 1), small_known


def _samples(
    net: PDGAN,
    image: Tensor,
    known: Tensor,
    seed: int,
    n: int,
    strength: float,
    backend: str | None = None,
) -> list[Tensor]:
    """``n`` completions at the working size; the prior runs once, padding added and removed."""
    h, w = image.shape[-2:]
    padded = _pad_for(net, image, "reflect")
    padded_known = _pad_for(net, known, "replicate")
    ph, pw = padded.shape[-2:]
    if ph > h or pw > w:  # padding counts as known context
        padded_known = padded_known.clone()
        padded_known[..., h:, :] = 1
        padded_known[..., :, w:] = 1
    prior = net.prior_image(padded, padded_known)
    fills = []
    for index in range(n):
        z = latent(net, ph, pw, seed, index).to(image.device)
        inputs = [z, prior, padded_known, torch.tensor(float(strength))]
        raw = run_graph(net, "generate", inputs, backend)[0]
        fills.append(raw[..., :h, :w].cpu())
    return fills


def _pad_for(net: PDGAN, x: Tensor, mode: PadMode) -> Tensor:
    """Pad to the model's multiple, and to two multiples wide if that leaves one.

    At a single multiple in both directions the coarsest level is 1×1, where
    instance normalisation has a single value to normalise and fails: small
    images (up to 32×32 for the shipped model) are widened to get two values.
    """
    m = net.size_multiple
    padded = pad_to_multiple(x, m, mode)
    if tuple(padded.shape[-2:]) == (m, m):
        padded = F.pad(padded, (0, m, 0, 0), mode="replicate")
    return padded


def show_hole(image: np.ndarray, hole: np.ndarray, cell: int = 8) -> np.ndarray:
    """``image`` (uint8 H×W×3) with its hole drawn as a grey and white checkerboard."""
    h, w = hole.shape
    yy, xx = np.mgrid[:h, :w]
    checker = np.where(((yy // cell + xx // cell) % 2 == 0)[..., None], 200, 255).astype(np.uint8)
    return np.where(hole[..., None], checker, image)


def contact_sheet(
    image: Any, mask: Any, samples: list[np.ndarray], columns: int = 4, gap: int = 4
) -> np.ndarray:
    """One picture: the input with its hole shown (top left), then every sample.

    The hole is drawn as a grey and white checkerboard so it cannot be
    mistaken for image content. Tiles are separated by ``gap`` white pixels;
    each sample is labelled with its index in the corner.
    """
    image_u8 = quantize_8bit(to_numpy(as_image_tensor(image, "image")))
    hole = load_mask(mask, image_u8.shape[:2])
    h, w = hole.shape
    tiles = [show_hole(image_u8, hole), *samples]
    rows = -(-len(tiles) // columns)
    cols = min(columns, len(tiles))
    sheet = Image.new("RGB", (cols * w + (cols + 1) * gap, rows * h + (rows + 1) * gap), "white")
    draw = ImageDraw.Draw(sheet)
    for i, tile in enumerate(tiles):
        left = gap + (i % columns) * (w + gap)
        top = gap + (i // columns) * (h + gap)
        sheet.paste(Image.fromarray(np.ascontiguousarray(tile)), (left, top))
        label = "input" if i == 0 else f"#{i - 1}"
        draw.rectangle((left, top, left + 8 + 7 * len(label), top + 14), fill="white")
        draw.text((left + 4, top + 2), label, fill="black")
    return np.asarray(sheet)
