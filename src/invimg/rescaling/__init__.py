"""Invertible rescaling (IRN ×2/×3/×4/×8) and decolorization (IRN-Color).

Importing this package registers the architectures ``"irn"`` and
``"irn-color"`` with :mod:`invimg.zoo`. The task functions live in
:mod:`invimg.rescaling.api` (``downscale``, ``upscale``, ``decolorize``,
``colorize``) and are re-exported lazily by :mod:`invimg`.
"""

from .color import IRNColor, luma
from .irn import IRN, quantize_st
from .published import load_published_irn

__all__ = ["IRN", "IRNColor", "load_published_irn", "luma", "quantize_st"]
