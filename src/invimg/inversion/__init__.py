"""Inverting image representations (Mahendran & Vedaldi, CVPR 2015 / IJCV 2016).

What does a feature remember of the image? :func:`invert` finds an image whose
representation matches a given one, by minimising a normalised feature loss
plus natural-image priors (:mod:`.objective`) with the published optimisers
(:mod:`.optimizer`). Representations are networks: HOG/HOGb (:mod:`.hog`),
dense SIFT (:mod:`.dsift`) and any layer of any PyTorch network
(:mod:`.torch_features`); :mod:`.specs` names them (``hog``, ``dsift:5``,
``torch:mynets.alexnet:features.8``). The error measures of both papers are in
:mod:`.evaluation`; a learned baseline (a HOG decoder) in :mod:`.decoder`.

Importing this package registers the architectures ``"hog-decoder"`` and
``"rotnet"`` with :mod:`invimg.zoo`; the training task is
:mod:`invimg.inversion.task` (``task: inversion``).
"""

import importlib
from typing import Any

from .decoder import HOGDecoder
from .dsift import DenseSIFT
from .hog import HOG
from .optimizer import PRESETS, Phase, Preset, reconstruct
from .representation import Representation
from .rotnet import RotNet
from .torch_features import IMAGENET_MEAN, IMAGENET_STD, TorchFeatures

_LAZY = {
    "invert": "invimg.inversion.api",
    "run_inversion": "invimg.inversion.api",
    "features_of": "invimg.inversion.api",
    "representation": "invimg.inversion.specs",
    "cvpr_error": "invimg.inversion.evaluation",
    "relative_error": "invimg.inversion.evaluation",
}

__all__ = [
    "HOG",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PRESETS",
    "DenseSIFT",
    "HOGDecoder",
    "Phase",
    "Preset",
    "Representation",
    "RotNet",
    "TorchFeatures",
    "cvpr_error",
    "features_of",
    "invert",
    "reconstruct",
    "relative_error",
    "representation",
    "run_inversion",
]


def __getattr__(name: str) -> Any:
    """The API loads on first use (it imports the image I/O stack)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'invimg.inversion' has no attribute {name!r}")
