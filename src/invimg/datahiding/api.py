"""``embed`` / ``extract`` / ``capacity``: hide any bytes in a photo's colours, get them back.

>>> stego = embed("photo.png", "meet at noon", password="correct horse")   # uint8 H×W×3
>>> extract(stego, password="correct horse")
b'meet at noon'

The payload path (see :mod:`.payload`, :mod:`.frame`, :mod:`.ecc`): bytes →
compressed → ChaCha20-Poly1305 with a scrypt-derived key → Reed–Solomon +
soft repetition → keystream-whitened bits → signs of a standard-normal
latent → colour (``ab``) from the cINN conditioned on the cover's lightness
→ 8-bit sRGB stego. Extraction reverses every step; a wrong password or a
stego changed beyond what the code corrects is a :class:`PayloadError`,
never wrong data.

``embed`` checks its own work: it reads the payload back from the 8-bit
stego it is about to return (exactly what a PNG will hold) and keeps it only
if every error-correction block has ``SAFETY_MARGIN`` spare bytes; otherwise
it corrects the latent in closed loop (``CORRECTION_PASSES`` times, see
:mod:`.embedding`), then draws new latent magnitudes and starts again
(``EMBED_ATTEMPTS`` in all).
A payload over :func:`capacity` is refused before the model runs. Save the
stego losslessly (PNG): JPEG destroys it.

Inputs may be paths, PIL images, NumPy arrays or tensors, as
:func:`invimg.io.as_image_tensor` takes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import PayloadError, UsageError
from ..inference import check_backend
from ..io import as_image_tensor
from ..tasks import first_default
from ..zoo.cards import load_typed
from . import ecc, frame
from .embedding import (
    DEFAULT_REFINE,
    DEFAULT_TILE,
    Layout,
    correct_latent,
    draw_latent,
    generate,
    receive,
)
from .model import SIZE_MULTIPLE, StegCINN
from .payload import OVERHEAD, Payload, pack, unpack

#: The shipped model: a small cINN trained on a CPU (see its card and BENCHMARKS.md).
DEFAULT_MODEL = first_default("datahiding", "embed")
EMBED_ATTEMPTS = 2
#: Closed-loop corrections of the latent within one attempt.
CORRECTION_PASSES = 3
#: Spare correctable bytes every codeword must keep in embed's own read-back. The
#: read-back is exact on the machine that embeds; another machine's float rounding can
#: flip only latents within ~1e-6 of zero, which a spare byte or two absorbs.
SAFETY_MARGIN = 2

ModelLike = str | os.PathLike[str] | StegCINN
PayloadLike = str | bytes | Payload


def capacity(cover: Any, *, tile: int | None = None) -> int:
    """The most bytes of (incompressible, unnamed) payload ``cover`` can carry.

    Text usually compresses, so a longer message may still fit: ``embed``
    decides on the packed size.
    """
    h, w = as_image_tensor(cover, "cover").shape[-2:]
    return max(0, frame.capacity(_layout(h, w, tile).latent_count) - OVERHEAD)


@dataclass(frozen=True)
class EmbedReport:
    """How an embedding went: the code used and how much margin the read-back kept.

    ``margin``: the fewest spare correctable bytes over the body's codewords;
    ``bit_error_rate``: the fraction of latent signs the read-back got wrong;
    ``corrections``: closed-loop correction passes in the accepted attempt;
    ``uncorrected_error_rate`` / ``uncorrected_margin``: the same two measures
    for that attempt's first, uncorrected stego (its margin over every codeword,
    header included; below ``SAFETY_MARGIN`` it was not accepted).
    """

    code: ecc.Code
    latent_count: int
    attempts: int
    corrections: int
    margin: int
    bit_error_rate: float
    packed_bytes: int
    uncorrected_error_rate: float
    uncorrected_margin: int


def embed(
    cover: Any,
    payload: PayloadLike,
    password: str | None = None,
    *,
    model: ModelLike = DEFAULT_MODEL,
    tile: int | None = None,
    refine: int = DEFAULT_REFINE,
    seed: int | None = None,
    backend: str | None = None,
) -> np.ndarray:
    """Hide ``payload`` (text, bytes or a :class:`Payload`) in ``cover``; the uint8 stego.

    ``seed`` fixes the random latent magnitudes (reproducible output; the
    encryption salt is always fresh). Raises :class:`PayloadError` if the
    payload does not fit, before any model work. ``backend`` chooses what
    runs the flow (:mod:`invimg.inference.runtime`).
    """
    return embed_with_report(
        cover, payload, password, model=model, tile=tile, refine=refine, seed=seed, backend=backend
    )[0]


def embed_with_report(
    cover: Any,
    payload: PayloadLike,
    password: str | None = None,
    *,
    model: ModelLike = DEFAULT_MODEL,
    tile: int | None = None,
    refine: int = DEFAULT_REFINE,
    seed: int | None = None,
    backend: str | None = None,
) -> tuple[np.ndarray, EmbedReport]:
    """:func:`embed`, plus an :class:`EmbedReport` (for benchmarks and interfaces)."""
    check_backend(backend)
    rgb = as_image_tensor(cover, "cover")
    layout = _layout(rgb.shape[-2], rgb.shape[-1], tile)
    packed = pack(_as_payload(payload))
    rng = np.random.default_rng(seed)
    framed = frame.build(packed, password, layout.latent_count, rng)
    net = resolve_model(model)
    for attempt in range(1, EMBED_ATTEMPTS + 1):
        intended = draw_latent(framed.signs, rng)
        latent = intended
        for corrections in range(CORRECTION_PASSES + 1):
            stego = generate(net, rgb, latent, layout, refine, backend)
            values = receive(net, stego, layout, backend)
            margins = framed.margins(values)  # header codeword first
            errors = float(np.mean(np.sign(values) != framed.signs))
            if corrections == 0:
                first = (errors, int(margins.min()))
            if margins.min() >= SAFETY_MARGIN:
                report = EmbedReport(
                    framed.code,
                    layout.latent_count,
                    attempt,
                    corrections,
                    int(margins[1:].min()),
                    errors,
                    len(packed),
                    *first,
                )
                return stego[0].permute(1, 2, 0).numpy().copy(), report
            latent = correct_latent(latent, values, intended)
    raise PayloadError(
        f"could not hide {len(packed)} bytes reliably in this cover after {EMBED_ATTEMPTS} "
        "attempts: use a smaller payload or a larger, more colourful cover"
    )


def extract_payload(
    stego: Any,
    password: str | None = None,
    *,
    model: ModelLike = DEFAULT_MODEL,
    tile: int | None = None,
    backend: str | None = None,
) -> Payload:
    """The :class:`Payload` hidden in ``stego`` (with its kind and file name)."""
    check_backend(backend)
    rgb8 = _as_uint8(stego)
    layout = _layout(rgb8.shape[-2], rgb8.shape[-1], tile)
    if layout.latent_count < frame.HEADER_SLOTS:
        raise PayloadError(
            f"a {rgb8.shape[-1]}×{rgb8.shape[-2]} image is too small to hold a payload"
        )
    values = receive(resolve_model(model), rgb8, layout, backend)
    return unpack(frame.read(values, password))


def extract(
    stego: Any,
    password: str | None = None,
    *,
    model: ModelLike = DEFAULT_MODEL,
    tile: int | None = None,
    backend: str | None = None,
) -> bytes:
    """The bytes hidden in ``stego`` by :func:`embed` (a text message as UTF-8)."""
    return extract_payload(stego, password, model=model, tile=tile, backend=backend).data


def resolve_model(model: ModelLike) -> StegCINN:
    """A Steg-cINN model from a shipped name, a card path, or a model object."""
    return load_typed(model, StegCINN, "Steg-cINN")


def _as_payload(payload: PayloadLike) -> Payload:
    if isinstance(payload, Payload):
        return payload
    if isinstance(payload, str):
        return Payload.from_text(payload)
    if isinstance(payload, bytes | bytearray | memoryview):
        return Payload(bytes(payload))
    raise UsageError(f"payload must be text, bytes or a Payload, got {type(payload).__name__}")


def _as_uint8(stego: Any) -> torch.Tensor:
    return torch.round(as_image_tensor(stego, "stego") * 255).to(torch.uint8)


def _layout(height: int, width: int, tile: int | None) -> Layout:
    if tile is not None and (tile < SIZE_MULTIPLE or tile % SIZE_MULTIPLE):
        raise UsageError(f"tile must be a positive multiple of {SIZE_MULTIPLE}, got {tile}")
    return Layout(height, width, tile or DEFAULT_TILE)
