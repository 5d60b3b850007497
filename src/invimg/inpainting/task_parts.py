"""What the inpainting stages share: frozen networks, seeded masks, a PSNR for the log.

A module of its own so that :mod:`.task` (which dispatches on ``model.kind``)
and :mod:`.pdgan_task` both import it and neither imports the other's
dependent: the stages form no import circle.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError, ModelError
from ..metrics import psnr_per_image
from .masks import TRAIN_BINS, training_known


def load_frozen(ref: str, what: str) -> nn.Module:
    """A frozen network from a run folder (``last.pt``), a shipped name or a card path."""
    from ..training import checkpoint_model_state, load_config
    from ..training.registry import get_task_factory

    path = Path(ref)
    if path.is_dir():
        if not (path / "last.pt").is_file():
            raise ConfigError(f"model.{what}: run folder {ref} has no last.pt (train it first)")
        task = get_task_factory("inpainting")(load_config(path / "config.yaml"))
        net = task.build_model()
        net.load_state_dict(checkpoint_model_state(path / "last.pt"))
    else:
        from ..zoo import load

        try:
            net = load(ref)
        except ModelError as exc:
            raise ConfigError(f"model.{what}: {exc}") from None
    net.eval().requires_grad_(False)
    return net


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator of the masks of ``step``: a pure function of (seed, step)."""
    return np.random.default_rng([seed, step])


def validation_known(batch: Tensor) -> Tensor:
    """Masks for a validation batch, fixed by its pixels (the same every validation)."""
    key = zlib.crc32(batch[:, :, ::7, ::7].mul(255).round().to(torch.uint8).numpy().tobytes())
    rng = np.random.default_rng(key)
    return batch_known(batch, rng, ((0.1, 0.5),))


def batch_known(
    batch: Tensor, rng: np.random.Generator, bins: Sequence[tuple[float, float]] = TRAIN_BINS
) -> Tensor:
    """One random mask per image of ``batch`` (``known``, on the batch's device)."""
    size = (int(batch.shape[-2]), int(batch.shape[-1]))
    return training_known(batch.shape[0], size, rng, bins).to(batch.device)


def mean_psnr(a: Tensor, b: Tensor) -> float:
    """Mean RGB PSNR (dB) of 8-bit-rounded images."""
    return float(psnr_per_image(a.clamp(0, 1), b, quantize=True).mean())
