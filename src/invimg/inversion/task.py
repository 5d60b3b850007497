"""The ``inversion`` training task: the networks the inversion capability trains itself.

Recipe sections (``training/recipes/hog-decoder-cpu.yaml``, ``rotnet-small-cpu.yaml``)::

    task: inversion
    model: {kind: hog-decoder, cell_size: 8, width: 64}   # kind: hog-decoder | rotnet
    loss: {}                                              # no options

* ``hog-decoder`` (:class:`~invimg.inversion.decoder.HOGDecoder`): each crop
  becomes grey (BT.601 luma), its HOG is computed, and the decoder regresses
  the standardised grey crop (zero mean, unit deviation: what HOG can
  know) from it with a mean squared pixel error (HOGgle's least squares).
  Validation: PSNR of the decoded grey image (clipped to [0, 1]) and the
  IJCV relative HOG error of the decoded image, in %.
* ``rotnet`` (:class:`~invimg.inversion.rotnet.RotNet`): each crop is shown
  in its four rotations (0°, 90°, 180°, 270°) with the rotation as label;
  cross-entropy. Recipes must set ``data.augment: false``, since the
  loader's random rot90 would make "upright" meaningless. Validation:
  rotation accuracy.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..io import luma
from ..metrics import psnr_per_image
from ..training import TrainConfig, register_task
from ..training.config import build_section
from ..training.distributed import unwrap
from .decoder import HOGDecoder
from .evaluation import relative_error
from .rotnet import RotNet

KINDS: dict[str, type[HOGDecoder] | type[RotNet]] = {"hog-decoder": HOGDecoder, "rotnet": RotNet}


def _model_config(section: dict[str, Any]) -> tuple[str, Any]:
    fields = dict(section)
    kind = fields.pop("kind", None)
    if kind not in KINDS:
        raise ConfigError(f"model.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    config = build_section(KINDS[kind].Config, fields, "model.")
    try:
        KINDS[kind](config)  # type: ignore[arg-type]  # refuse a bad value before any work
    except ValueError as exc:
        raise ConfigError(f"model: {exc}") from None
    return kind, config


def standardise(images: Tensor) -> Tensor:
    """Each image minus its mean, over its standard deviation (HOG's invariances removed)."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    std = images.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
    return (images - mean) / std


class HOGDecoderTask:
    """Trains :class:`HOGDecoder` to regress grey crops from their HOG."""

    def __init__(self, config: HOGDecoder.Config) -> None:
        self.config = config
        self.hog = HOGDecoder(config).hog()

    def build_model(self) -> nn.Module:
        return HOGDecoder(self.config)

    def _pair(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        grey = luma(batch)
        b = self.config.cell_size
        grey = grey[..., : grey.shape[-2] // b * b, : grey.shape[-1] // b * b]
        with torch.no_grad():
            features = self.hog(grey)
        return grey, features

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        grey, features = self._pair(batch)
        out = model(features)
        loss = F.mse_loss(out, standardise(grey[..., : out.shape[-2], : out.shape[-1]]))
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        grey, features = self._pair(batch)
        decoded = (
            cast(HOGDecoder, unwrap(model))
            .decode(features, (grey.shape[-2], grey.shape[-1]))
            .clamp(0, 1)
        )
        grey3, decoded3 = grey.expand(-1, 3, -1, -1), decoded.expand(-1, 3, -1, -1)
        return {
            "psnr_grey": float(psnr_per_image(decoded3, grey3, channel="y").mean()),
            "hog_rel_error": float(relative_error(self.hog(decoded), features).mean()),
        }


class RotNetTask:
    """Trains :class:`RotNet` to tell which way up each crop is."""

    def __init__(self, config: RotNet.Config) -> None:
        self.config = config

    def build_model(self) -> nn.Module:
        return RotNet(self.config)

    @staticmethod
    def rotations(batch: Tensor) -> tuple[Tensor, Tensor]:
        """The batch in its 4 rotations (k·90° anticlockwise) and the labels k."""
        images = torch.cat([torch.rot90(batch, k, dims=(2, 3)) for k in range(4)])
        labels = torch.arange(4, device=batch.device).repeat_interleave(batch.shape[0])
        return images, labels

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        images, labels = self.rotations(batch)
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(1) == labels).float().mean()
        return loss, {"ce": float(loss.detach()), "accuracy": float(accuracy)}

    @torch.no_grad()
    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        images, labels = self.rotations(batch)
        return {"accuracy": float((model(images).argmax(1) == labels).float().mean())}


@register_task("inversion")
def inversion_task(config: TrainConfig) -> HOGDecoderTask | RotNetTask:
    """Factory registered with the trainer as ``task: inversion`` (``model.kind`` picks)."""
    if config.loss:
        raise ConfigError(f"the inversion task has no loss options, got {sorted(config.loss)}")
    kind, model_config = _model_config(config.model)
    if kind == "rotnet":
        if config.data.augment:
            raise ConfigError("rotnet needs data.augment: false (random rot90 hides 'upright')")
        return RotNetTask(model_config)
    return HOGDecoderTask(model_config)


__all__ = ["HOGDecoderTask", "RotNetTask", "inversion_task"]
