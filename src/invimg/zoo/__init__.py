"""Model zoo: architectures by name and the pretrained models shipped with invimg."""

from .architectures import ARCHITECTURES, build_model, register_architecture
from .cards import ModelCard, find_card, load, save_pretrained, shipped_models

__all__ = [
    "ARCHITECTURES",
    "ModelCard",
    "build_model",
    "find_card",
    "load",
    "register_architecture",
    "save_pretrained",
    "shipped_models",
]
