"""Hiding images in images: HiNet (one secret), DeepMIH (a cascade of 2–3 secrets)
and RIIS (HiNet made robust to a distorted stego).

Importing this package registers the architectures ``"hinet"``, ``"deepmih"``
and ``"riis"`` with :mod:`invimg.zoo`. The task functions live in
:mod:`invimg.hiding.api` (``invimg.hide`` / ``invimg.reveal``), the training
task in :mod:`invimg.hiding.task`, checkpoint loaders for the published code
in :mod:`invimg.hiding.published`, and the 4-bit LSB baseline in
:mod:`invimg.hiding.baselines`.
"""

import importlib
from typing import Any

from . import published  # noqa: F401  registers the published checkpoint format with the zoo
from .base import HideResult, HidingModel, RevealResult, ZMode
from .deepmih import DeepMIH, ImportanceMap
from .hinet import HiNet
from .riis import RIIS

_LAZY = {
    "hide": "invimg.hiding.api",
    "reveal": "invimg.hiding.api",
    "evaluate_hiding": "invimg.hiding.evaluation",
}

__all__ = [
    "RIIS",
    "DeepMIH",
    "HiNet",
    "HideResult",
    "HidingModel",
    "ImportanceMap",
    "RevealResult",
    "ZMode",
    "evaluate_hiding",
    "hide",
    "reveal",
]


def __getattr__(name: str) -> Any:
    """The API and evaluation load on first use (they import the image I/O stack)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'invimg.hiding' has no attribute {name!r}")
