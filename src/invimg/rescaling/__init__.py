"""Invertible rescaling (IRN ×2/×3/×4/×8), with JPEG recovery, and decolorization.

Importing this package registers the architectures ``"irn"``, ``"irn-jpeg"``
(IRN + compression recovery module) and ``"irn-color"`` with
:mod:`invimg.zoo`. The task functions live in :mod:`invimg.rescaling.api`
(``downscale``, ``upscale``, ``decolorize``, ``colorize``) and are
re-exported lazily by :mod:`invimg`.
"""

from ..io import quantize_st
from .color import IRNColor, luma
from .compression import IRNJPEG, CompressionRecovery
from .irn import IRN
from .published import load_published_irn

__all__ = [
    "IRN",
    "IRNJPEG",
    "CompressionRecovery",
    "IRNColor",
    "load_published_irn",
    "luma",
    "quantize_st",
]
