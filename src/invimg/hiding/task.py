"""The ``hiding`` training task: HiNet or DeepMIH, trained as published but for PNG.

Recipe sections (see ``training/recipes/hinet*.yaml``, ``deepmih*.yaml``)::

    task: hiding
    model: {architecture: hinet, num_blocks: 16, ...}   # fields of the model's Config
    loss:  {reveal: 5, hide: 1, low_frequency: 1, reduction: sum, z: gaussian, quantize: true}

Batches: the dataset yields single images; a batch of ``B`` crops is cut into
``S + 1`` equal groups (``S`` secrets per stego): the first ``B // (S+1)``
crops are the covers, the next group the first secrets, and so on (DeepMIH's
order; HiNet takes its halves the other way round, which makes no
difference for random crops). Leftover crops are unused.

Each step hides, rounds the stego to 8 bits with a straight-through gradient
(what a PNG does), reveals from it with ``loss.z`` and minimises
:func:`invimg.hiding.losses.hiding_loss`.

Validation reports PSNR (RGB, dB) of stego vs cover and of each revealed
secret vs its original, both after 8-bit rounding, revealing with the
default z of :mod:`invimg.hiding.api`. A validation batch with too few images
to split (full-size validation images come one at a time) pairs each image
with flipped copies of itself as secrets.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..metrics import psnr
from ..training import TrainConfig, register_task
from ..training.checkpoint import warm_start as start_from
from ..training.config import build_section
from ..training.distributed import unwrap
from ..zoo import ARCHITECTURES, build_model
from .base import DEFAULT_Z, HidingModel
from .deepmih import DeepMIH
from .hinet import HiNet
from .losses import HidingLossConfig, hiding_loss
from .riis import RIIS

_FLIPS: tuple[tuple[int, ...], ...] = ((3,), (2,), (2, 3))


class HidingTask:
    """Implements :class:`invimg.training.TrainingTask` for hiding models."""

    def __init__(self, config: TrainConfig) -> None:
        model = dict(config.model)
        self.architecture = str(model.pop("architecture", "hinet"))
        self.init_from: str | None = model.pop("init_from", None)
        cls: Any = ARCHITECTURES.get(self.architecture)
        if cls is None or not issubclass(cls, HidingModel):
            hiding = (k for k, c in ARCHITECTURES.items() if issubclass(c, HidingModel))
            known = ", ".join(sorted(hiding))
            raise ConfigError(
                f"model.architecture must be one of {known}, got {self.architecture!r}"
            )
        # type-checked and complete (defaults filled in), so a typo fails before any work
        self.model_fields: dict[str, Any] = dataclasses.asdict(
            build_section(cls.Config, model, "model.")
        )
        self.loss = HidingLossConfig.from_dict(dict(config.loss))
        self.num_secrets = _count_secrets(self.architecture, self.model_fields)
        if config.data.batch_size < self.num_secrets + 1:
            raise ConfigError(
                f"data.batch_size must be at least {self.num_secrets + 1} "
                f"(one cover and {self.num_secrets} secret(s) per stego)"
            )

    def build_model(self) -> nn.Module:
        model = build_model(self.architecture, self.model_fields)
        if not isinstance(model, HidingModel):
            raise ConfigError(f"architecture {self.architecture!r} is not a hiding model")
        if self.init_from:
            warm_start(model, self.init_from)
        return model

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        cover, secrets = split_batch(batch, self.num_secrets)
        # Under the trainer's bf16 autocast only the sub-networks' convolutions drop
        # precision: the couplings and the Haar transform keep theirs (invimg.inn).
        hidden, revealed = model(
            cover.float(),
            [s.float() for s in secrets],
            z=self.loss.z,
            quantize=self.loss.quantize,
        )
        return hiding_loss(cover, secrets, hidden, revealed, self.loss)

    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        hiding = unwrap(model)
        assert isinstance(hiding, HidingModel)
        cover, secrets = split_batch(batch, self.num_secrets, allow_flips=True)
        hidden = hiding.hide(cover.float(), [s.float() for s in secrets])
        stego = torch.round(hidden.stego.clamp(0, 1) * 255) / 255
        revealed = hiding.reveal(stego, DEFAULT_Z)
        metrics = {"psnr_stego": psnr(cover, stego, quantize=True)}
        for i, (rev, sec) in enumerate(zip(revealed.secrets, secrets), start=1):
            metrics[f"psnr_secret{i}" if self.num_secrets > 1 else "psnr_secret"] = psnr(
                sec, rev.clamp(0, 1), quantize=True
            )
        return metrics


def split_batch(
    batch: Tensor, num_secrets: int, allow_flips: bool = False
) -> tuple[Tensor, list[Tensor]]:
    """Covers and secrets from a batch of images (see the module docstring)."""
    per = batch.shape[0] // (num_secrets + 1)
    if per == 0:
        if not allow_flips:
            raise ConfigError(
                f"a batch of {batch.shape[0]} image(s) cannot hold a cover "
                f"and {num_secrets} secret(s)"
            )
        return batch, [torch.flip(batch, dims) for dims in _FLIPS[:num_secrets]]
    groups = [batch[i * per : (i + 1) * per] for i in range(num_secrets + 1)]
    return groups[0], groups[1:]


def warm_start(model: nn.Module, source: str) -> None:
    """Copy the trained model ``source`` (a shipped name, a card path or a published
    checkpoint) into ``model`` (see :func:`invimg.training.checkpoint.warm_start`).

    A DeepMIH may start from one with fewer secrets (see
    :meth:`~invimg.hiding.deepmih.DeepMIH.load_stages`), a RIIS from a HiNet
    (its invertible part, :meth:`~invimg.hiding.riis.RIIS.load_hinet`); any
    other model only from one of its own architecture and shape.
    """

    def copy(trained: HidingModel) -> None:
        if isinstance(model, DeepMIH) and isinstance(trained, DeepMIH):
            model.load_stages(trained)
        elif isinstance(model, RIIS) and isinstance(trained, HiNet):
            model.load_hinet(trained)
        elif (
            type(model) is HiNet
            and type(trained) is HiNet
            and trained.config.num_blocks < model.config.num_blocks
        ):
            model.load_shallower(trained)
        elif type(trained) is type(model):
            model.load_state_dict(trained.state_dict())
        else:
            raise ValueError(f"it is a {type(trained).__name__}, not a {type(model).__name__}")

    start_from(source, copy, HidingModel, "hiding")


def _count_secrets(architecture: str, fields: dict[str, Any]) -> int:
    if architecture == "deepmih":
        return int(fields.get("num_secrets", 2))
    return 1


@register_task("hiding")
def make_hiding_task(config: TrainConfig) -> HidingTask:
    """Factory registered with the trainer under the name ``hiding``."""
    return HidingTask(config)
