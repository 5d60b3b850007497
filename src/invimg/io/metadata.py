"""What invimg records in the images it writes, so a later step needs no options.

A stego records the model that hid it (``reveal`` takes the same one); an LR
image records the model, scale and original size (``upscale`` gives back the
exact size). The keys live here, below the task APIs that write and read
them, so the Python API, the command line and the web page record the same
thing: an image saved by any of them is read back by all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import InputImageError, ModelError
from .images import show_path
from .writing import read_metadata

#: The task that wrote the image, and the model it used (a shipped name or a card's absolute path).
KEY_TASK, KEY_MODEL = "invimg:task", "invimg:model"
#: File suffixes that name a model card (or the weights beside one) rather than a shipped model.
CARD_SUFFIXES = (".json", ".safetensors")


def is_card_path(spec: str | os.PathLike[str]) -> bool:
    """Whether a model reference names a card file rather than a shipped model."""
    return Path(spec).suffix in CARD_SUFFIXES


def model_ref(spec: str | os.PathLike[str]) -> str:
    """What to record for a model: a shipped name as is, a card as an absolute path.

    A relative card path would stop resolving as soon as the user changes folder.
    """
    return str(Path(spec).resolve()) if is_card_path(spec) else os.fspath(spec)


def task_metadata(path: str | os.PathLike[str], task: str) -> dict[str, str]:
    """invimg's metadata of ``path`` if written for ``task``, else {} (also if unreadable)."""
    try:
        meta = read_metadata(path)
    except InputImageError:
        return {}
    return meta if meta.get(KEY_TASK) == task else {}


def recorded_model(meta: Mapping[str, str], image: str | os.PathLike[str]) -> str | None:
    """The model recorded in ``image``'s metadata, refusing a card that has since gone."""
    recorded = meta.get(KEY_MODEL)
    if recorded and is_card_path(recorded) and not os.path.exists(recorded):
        raise ModelError(
            f"{show_path(image)} was made with {recorded}, which no longer exists; pass --model"
        )
    return recorded or None
