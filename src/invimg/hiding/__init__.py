"""Hiding images in images: HiNet (one secret) and DeepMIH (a cascade of 2–3 secrets).

Importing this package registers the architectures ``"hinet"`` and
``"deepmih"`` with :mod:`invimg.zoo`. The task functions live in
:mod:`invimg.hiding.api` (``invimg.hide`` / ``invimg.reveal``), the training
task in :mod:`invimg.hiding.task`, checkpoint loaders for the published code
in :mod:`invimg.hiding.published`, and the 4-bit LSB baseline in
:mod:`invimg.hiding.baselines`.
"""

from .base import HideResult, HidingModel, RevealResult, ZMode
from .deepmih import DeepMIH, ImportanceMap
from .hinet import HiNet

__all__ = ["DeepMIH", "HiNet", "HideResult", "HidingModel", "ImportanceMap", "RevealResult", "ZMode"]
