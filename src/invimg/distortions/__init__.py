"""Distortions a model may have to survive, each usable by any task.

Every distortion is an ``nn.Module`` with a kind and a strength
(:class:`Distortion`): a differentiable approximation in training mode, the
real channel in evaluation mode, and a condition vector for models that are
told what happened to their input.

============  ===========================  ==========================================
kind          strength                     training / evaluation
============  ===========================  ==========================================
``none``      —                            identity
``round``     bits (8 = PNG)               straight-through round / exact round
``gaussian``  σ in 8-bit levels            additive N(0, σ²), gradient exact
``poisson``   photons at white λ           Poisson(λx)/λ, straight-through gradient
``jpeg``      quality 1–100                :class:`DiffJPEG` / real libjpeg (Pillow)
``resize``    scale factor in (0, 1]       torch bicubic / Pillow bicubic, down + up
============  ===========================  ==========================================

:class:`DistortionMixture` draws one per training step from a recipe section;
:func:`parse_distortion` reads ``"jpeg:75"``. The lower-level JPEG pieces
(:func:`jpeg_real`, :func:`jpeg_round_trip`, :class:`DiffJPEG`,
:func:`quality_tables`) are used directly by the compression-aware rescaling.
"""

from .base import CONDITION_DIM, KINDS, Distortion, Identity, Quantization
from .jpeg import (
    JPEG,
    DiffJPEG,
    Rounding,
    dct_matrix,
    estimate_jpeg_quality,
    jpeg_real,
    jpeg_round_trip,
    quality_tables,
    round_surrogate,
)
from .mixture import DISTORTIONS, DistortionMixture, MixtureEntry, make_distortion, parse_distortion
from .noise import GaussianNoise, PoissonNoise
from .resize import Resize

__all__ = [
    "CONDITION_DIM",
    "DISTORTIONS",
    "JPEG",
    "KINDS",
    "DiffJPEG",
    "Distortion",
    "DistortionMixture",
    "GaussianNoise",
    "Identity",
    "MixtureEntry",
    "PoissonNoise",
    "Quantization",
    "Resize",
    "Rounding",
    "dct_matrix",
    "estimate_jpeg_quality",
    "jpeg_real",
    "jpeg_round_trip",
    "make_distortion",
    "parse_distortion",
    "quality_tables",
    "round_surrogate",
]
