"""invimg: invertible and inverse imaging on PyTorch.

The task functions are imported lazily so ``import invimg`` stays fast::

    import invimg
    model = invimg.load("hinet")
    stego = invimg.hide(cover, [secret])
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load": "invimg.zoo",
    "hide": "invimg.hiding.api",
    "reveal": "invimg.hiding.api",
    "downscale": "invimg.rescaling.api",
    "upscale": "invimg.rescaling.api",
    "decolorize": "invimg.rescaling.api",
    "colorize": "invimg.rescaling.api",
    "invert": "invimg.inversion.api",
    "features_of": "invimg.inversion.api",
    "embed": "invimg.datahiding.api",
    "extract": "invimg.datahiding.api",
    "capacity": "invimg.datahiding.api",
    "inpaint": "invimg.inpainting.api",
    "contact_sheet": "invimg.inpainting.api",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'invimg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
