"""JPEG, real and differentiable, and the :class:`JPEG` distortion module built on both.

Two ways to put JPEG inside a training graph, for two needs:

* :func:`jpeg_real` runs the real codec (Pillow/libjpeg) on every image and
  passes the gradient straight through (identity), as IRN-Compression's
  ``JPG`` function does. The forward values are exactly what a user's file
  holds; the gradient is only an approximation.
* :class:`DiffJPEG` re-implements the codec's lossy steps in torch: full-range
  YCbCr (JFIF), 4:2:0 chroma averaging, 8×8 orthonormal DCT, division by the
  IJG tables scaled for ``quality`` (libjpeg's formula), rounding, and the
  way back. Rounding is replaced by a smooth surrogate, either the cubic
  ``⌊x⌉ + (x − ⌊x⌉)³`` (Shin & Song, 2017) or a straight-through round, so
  the gradient sees which coefficients the quantiser destroys. Its output
  differs from libjpeg's by the chroma upsampling filter and integer
  round-offs (a few 8-bit levels, measured in the tests).

:class:`JPEG` is the uniform :class:`~invimg.distortions.Distortion`: the
approximation in training (or, with ``train_forward="real"``, the real codec's
values with the approximation's gradient), the real codec in evaluation.
:func:`estimate_jpeg_quality` reads the quality back from a file's tables, so a
JPEG stego tells a robust model what it went through.

Shape: ``(N, 3, H, W)`` RGB in [0, 1] → the same; any H, W (padded to a
multiple of 16 by edge replication internally and cropped back).
"""

from __future__ import annotations

import io
import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from .base import Distortion

Rounding = Literal["cubic", "ste"]
TrainForward = Literal["approx", "real"]

# ITU-T T.81 Annex K (the tables libjpeg scales by quality), rows of 8×8.
_LUMA_TABLE = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]  # fmt: skip
_CHROMA_TABLE = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32  # fmt: skip

# JFIF full-range RGB → YCbCr (offsets of 128/255 on the chroma rows).
_RGB_TO_YCC = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
    dtype=torch.float64,
)


def quality_tables(quality: int) -> tuple[Tensor, Tensor]:
    """The 8×8 luma and chroma quantisation tables libjpeg uses at ``quality`` (1–100)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality

    def scaled(table: list[int]) -> Tensor:
        t = torch.floor((torch.tensor(table, dtype=torch.float64) * scale + 50) / 100)
        return t.clamp(1, 255).view(8, 8)

    return scaled(_LUMA_TABLE), scaled(_CHROMA_TABLE)


def dct_matrix(n: int = 8) -> Tensor:
    """Orthonormal DCT-II matrix ``D`` (rows = frequencies): coefficients = ``D · block · Dᵀ``."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    x = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * x + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


def round_surrogate(x: Tensor, rounding: Rounding = "cubic") -> Tensor:
    """Rounding with a usable gradient: cubic surrogate or straight-through."""
    r = torch.round(x)
    if rounding == "cubic":
        return r.detach() + (x - r.detach()) ** 3
    return x + (r - x).detach()


class DiffJPEG(nn.Module):
    """A differentiable approximation of JPEG compression at a fixed ``quality``."""

    q_luma: Tensor
    q_chroma: Tensor
    dct: Tensor
    rgb_to_ycc: Tensor
    ycc_to_rgb: Tensor

    def __init__(
        self, quality: int = 90, rounding: Rounding = "cubic", subsampling: int = 2
    ) -> None:
        super().__init__()
        if subsampling not in (0, 2):
            raise ValueError(f"subsampling must be 0 (4:4:4) or 2 (4:2:0), got {subsampling}")
        self.quality, self.rounding, self.subsampling = quality, rounding, subsampling
        luma, chroma = quality_tables(quality)
        self.register_buffer("q_luma", luma.float())
        self.register_buffer("q_chroma", chroma.float())
        self.register_buffer("dct", dct_matrix().float())
        self.register_buffer("rgb_to_ycc", _RGB_TO_YCC.float())
        self.register_buffer("ycc_to_rgb", torch.linalg.inv(_RGB_TO_YCC).float())

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, -w % 16, 0, -h % 16), mode="replicate") if (h % 16 or w % 16) else x
        ycc = torch.einsum("ij,njhw->nihw", self.rgb_to_ycc, x * 255)
        y = self._lossy(ycc[:, :1] - 128, self.q_luma)
        if self.subsampling == 2:  # 4:2:0, centred at 128 after the offset
            chroma = F.avg_pool2d(ycc[:, 1:], 2)
            chroma = self._lossy(chroma, self.q_chroma)
            chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)
        else:
            chroma = self._lossy(ycc[:, 1:], self.q_chroma)
        rgb = torch.einsum("ij,njhw->nihw", self.ycc_to_rgb, torch.cat((y + 128, chroma), 1))
        return (rgb / 255)[..., :h, :w]

    def _lossy(self, planes: Tensor, table: Tensor) -> Tensor:
        """DCT, quantise with ``table``, dequantise, inverse DCT, on every 8×8 block."""
        n, c, h, w = planes.shape
        blocks = planes.reshape(n, c, h // 8, 8, w // 8, 8).transpose(3, 4)
        coeff = self.dct @ blocks @ self.dct.T
        coeff = round_surrogate(coeff / table, self.rounding) * table
        blocks = self.dct.T @ coeff @ self.dct
        return blocks.transpose(3, 4).reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"quality={self.quality}, rounding={self.rounding!r}, subsampling={self.subsampling}"


class _RealJPEG(torch.autograd.Function):
    @staticmethod
    def forward(ctx: object, x: Tensor, quality: int, subsampling: int) -> Tensor:
        out = torch.empty_like(x)
        for i, image in enumerate(x.detach().cpu()):
            out[i] = jpeg_round_trip(image, quality, subsampling).to(x.device, x.dtype)
        return out

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad, None, None


def jpeg_encode(image: Tensor, quality: int, subsampling: int = 2) -> bytes:
    """The JPEG file Pillow writes for one ``3×H×W`` image in [0, 1] (its size is the rate).

    ``subsampling``: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0 (libjpeg's and OpenCV's default).
    """
    pixels = np.rint(image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality, subsampling=subsampling)
    return buffer.getvalue()


def jpeg_round_trip(image: Tensor, quality: int, subsampling: int = 2) -> Tensor:
    """One ``3×H×W`` image in [0, 1] through Pillow's JPEG encoder and decoder."""
    encoded = jpeg_encode(image, quality, subsampling)
    decoded = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
    return torch.from_numpy(decoded.astype(np.float32) / 255).permute(2, 0, 1)


def jpeg_real(x: Tensor, quality: int = 90, subsampling: int = 2) -> Tensor:
    """The real codec on each image of ``(N, 3, H, W)``, with an identity gradient."""
    quality_tables(quality)
    return _RealJPEG.apply(x, quality, subsampling)


class JPEG(Distortion):
    """JPEG at ``strength`` = quality (1–100) with 4:2:0 (``subsampling=2``) or 4:4:4 chroma.

    Training: :class:`DiffJPEG` (``train_forward="approx"``), or the real
    codec's values with DiffJPEG's gradient (``"real"``: the network sees
    exactly what libjpeg does and still learns which coefficients it loses).
    Evaluation: the real codec (Pillow/libjpeg), identity gradient.
    """

    kind = "jpeg"
    unit = "quality 1-100"

    def __init__(
        self,
        strength: float = 90,
        subsampling: int = 2,
        train_forward: TrainForward = "approx",
        rounding: Rounding = "cubic",
    ) -> None:
        if strength != int(strength):
            raise ValueError(f"jpeg: quality must be an integer, got {strength:g}")
        quality_tables(int(strength))  # range check with libjpeg's message
        if train_forward not in ("approx", "real"):
            raise ValueError(f"train_forward must be 'approx' or 'real', got {train_forward!r}")
        super().__init__(strength)
        self.quality, self.subsampling, self.train_forward = (
            int(strength),
            subsampling,
            train_forward,
        )
        self.codec = DiffJPEG(self.quality, rounding, subsampling)

    def approximate(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        approx = self.codec(x)
        if self.train_forward == "approx":
            return approx
        real = jpeg_real(x.detach(), self.quality, self.subsampling)
        return approx + (real - approx).detach()

    def exact(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return jpeg_real(x, self.quality, self.subsampling)

    def severity(self) -> float:
        """0 at quality 100, 0.5 at 75, 1 at 50 and below."""
        return min(1.0, (100 - self.quality) / 50)

    def extra_repr(self) -> str:
        forward = (
            f", train_forward={self.train_forward!r}" if self.train_forward != "approx" else ""
        )
        return f"quality={self.quality}, subsampling={self.subsampling}{forward}"


def estimate_jpeg_quality(tables: dict[int, list[int]] | list[list[int]]) -> int:
    """The libjpeg quality whose scaled tables are nearest to ``tables`` (Pillow's
    ``Image.quantization``: table 0 luma, table 1 chroma, natural order).

    Exact for files written by libjpeg-based encoders (Pillow, OpenCV, most
    cameras' software); for custom tables, the nearest standard quality.
    """
    given = list(tables.values()) if isinstance(tables, dict) else list(tables)
    if not given or any(len(t) != 64 for t in given):
        raise ValueError("JPEG quantisation tables must be 64 values each")
    observed = [torch.tensor(t, dtype=torch.float64).view(8, 8) for t in given[:2]]

    def distance(quality: int) -> float:
        return sum(float((o - s).abs().sum()) for o, s in zip(observed, quality_tables(quality)))

    return min(range(1, 101), key=distance)
