"""Training the compression recovery module of ``irn-jpeg`` (``kind: irn-jpeg``).

As published (``IRN_model_CRM.py`` with ``only_jpeg_reconstruction: True``):
the IRN comes from a trained model (``model.init_from``: a shipped name, a
card path or a published ``.pth``) and stays frozen; each step::

    lr = Q(IRN(x)[:c])                      # no gradient
    loss = jpeg · Σ (CRM(JPEG_q(lr)) − lr)²  # real codec, 4:2:0, quality q

Validation: PSNR on Y (crop = scale) of the HR restored from the JPEG'd LR
with the CRM and without it (z = 0), and of the restored LR.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from ..distortions import jpeg_real
from ..errors import ConfigError, ModelError
from ..metrics import psnr_per_image
from ..training import TrainConfig
from ..training.config import build_section
from ..training.distributed import unwrap
from .compression import IRNJPEG
from .irn import IRN, quantize_st
from .losses import sum_squares


class JPEGRecoveryTask:
    """Trains only the CRM of an :class:`IRNJPEG` on real JPEGs of a frozen IRN's LR."""

    def __init__(self, config: TrainConfig) -> None:
        fields = dict(config.model)
        fields.pop("kind", None)
        self.init_from: str | None = fields.pop("init_from", None)
        self.model_config = build_section(IRNJPEG.Config, fields, "model.")
        unknown = sorted(set(config.loss) - {"jpeg"})
        if unknown:
            raise ConfigError(f"unknown loss keys for irn-jpeg: {unknown} (known: ['jpeg'])")
        self.weight = float(config.loss.get("jpeg", 1.0))
        self.scale, self.quality = self.model_config.scale, self.model_config.quality
        if config.data.crop % self.scale:
            raise ConfigError(f"data.crop must be a multiple of the scale {self.scale}")

    def build_model(self) -> nn.Module:
        model = IRNJPEG(self.model_config)
        if self.init_from:
            _load_irn(model.irn, self.init_from)
        model.irn.requires_grad_(False)
        return model

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        with torch.no_grad():
            lr = quantize_st(model(batch)[:, :3])
            compressed = jpeg_real(lr, self.quality)
        restored = model(compressed, restore=True)
        loss = self.weight * sum_squares(restored, lr)
        return loss, {"jpeg": float(loss.detach())}

    @torch.no_grad()
    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        net = unwrap(model)
        assert isinstance(net, IRNJPEG)
        lr = quantize_st(net.encode(batch)[0])
        compressed = jpeg_real(lr, self.quality)
        restored = quantize_st(net.crm(compressed))
        s = self.scale
        return {
            "psnr_y_crm": _psnr(net.irn.decode(restored).clamp(0, 1), batch, s),
            "psnr_y_no_crm": _psnr(net.irn.decode(compressed).clamp(0, 1), batch, s),
            "psnr_y_lr_restored": _psnr(restored, lr, 0),
            "psnr_y_lr_jpeg": _psnr(compressed, lr, 0),
        }


def _psnr(a: Tensor, b: Tensor, crop: int) -> float:
    return float(psnr_per_image(a, b, channel="y", crop_border=crop, quantize=True).mean())


def _load_irn(target: IRN, source: str) -> None:
    """Copy a trained IRN's weights into ``target`` (one clear error if they do not fit)."""
    from ..zoo import load
    from .published import load_published_irn

    try:
        trained: Any = load_published_irn(source) if source.endswith(".pth") else load(source)
    except ModelError as exc:
        raise ConfigError(f"model.init_from: {exc}") from None
    if not isinstance(trained, IRN) or dataclasses.asdict(trained.config) | {
        "memory_saving": False
    } != dataclasses.asdict(target.config) | {"memory_saving": False}:
        raise ConfigError(
            f"model.init_from {source!r} is not an IRN with this architecture "
            f"({dataclasses.asdict(target.config)})"
        )
    target.load_state_dict(trained.state_dict())
