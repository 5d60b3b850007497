"""Training the compression recovery module of ``irn-jpeg`` (``kind: irn-jpeg``).

As published (``IRN_model_CRM.py`` with ``only_jpeg_reconstruction: True``):
the IRN comes from a trained model (``model.init_from``: a shipped name, a
card path or a published ``.pth``) and stays frozen; each step::

    lr = Q(IRN(x)[:c])                      # no gradient
    loss = jpeg · Σ (CRM(JPEG_q(lr)) − lr)²  # real codec, 4:2:0, quality q

**Joint mode** (any of ``loss.fit``, ``loss.rec``, ``loss.latent`` set; the
compression-aware training of the IJCV extension): the IRN is trained too,
through JPEG. The LR goes through :class:`invimg.distortions.JPEG`, the same
layer robust hiding trains with (``loss.train_forward``: ``real``, the codec's
values with DiffJPEG's gradient, or ``approx``, DiffJPEG alone), so the IRN
learns to hide its details where JPEG keeps them::

    y, z = IRN(x);  y_q = Q(y);  r = Q(CRM(JPEG~(y_q)))
    loss = fit·Σ(y − bicubic(x))² + latent·Σz² + jpeg·Σ(r − y_q)²
           + rec·Charbonnier(x, IRN⁻¹([r, ε]))

Validation: PSNR on Y (crop = scale) of the HR restored from the JPEG'd LR
with the CRM and without it (z = 0), and of the restored LR. It always uses
the real codec.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from ..distortions import JPEG, jpeg_real
from ..errors import ConfigError
from ..io import quantize_st
from ..metrics import psnr_per_image
from ..training import TrainConfig
from ..training.checkpoint import warm_start as start_from
from ..training.config import build_section, check_crops
from ..training.distributed import unwrap
from .compression import IRNJPEG
from .irn import IRN
from .losses import bicubic_downscale, charbonnier, latent_nll, sum_squares


@dataclasses.dataclass
class JPEGLoss:
    """The ``loss`` section: ``jpeg`` (the CRM); any IRN weight given trains jointly."""

    jpeg: float = 1.0
    fit: float | None = None
    rec: float | None = None
    latent: float | None = None
    #: How the JPEG is differentiated in training: the real codec or its approximation.
    train_forward: str = "real"


class JPEGRecoveryTask:
    """Trains only the CRM of an :class:`IRNJPEG` on real JPEGs of a frozen IRN's LR."""

    def __init__(self, config: TrainConfig) -> None:
        fields = dict(config.model)
        fields.pop("kind", None)
        self.init_from: str | None = fields.pop("init_from", None)
        self.model_config = build_section(IRNJPEG.Config, fields, "model.")
        loss = build_section(JPEGLoss, dict(config.loss), "loss.", what="loss")
        self.weight = loss.jpeg
        self.scale, self.quality = self.model_config.scale, self.model_config.quality
        joint = {"fit": loss.fit, "rec": loss.rec, "latent": loss.latent}
        self.joint = {k: v for k, v in joint.items() if v is not None}
        forward = loss.train_forward
        if forward not in ("real", "approx"):
            raise ConfigError(f"loss.train_forward must be 'real' or 'approx', got {forward!r}")
        self.channel = JPEG(self.quality, train_forward=forward)  # type: ignore[arg-type]
        check_crops(config.data, self.scale, f"the scale {self.scale}")

    def build_model(self) -> nn.Module:
        model = IRNJPEG(self.model_config)
        if self.init_from:
            _load_trained(model, self.init_from)
        model.irn.requires_grad_(bool(self.joint))
        return model

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        if self.joint:
            return self._joint_step(model, batch)
        with torch.no_grad():
            lr = quantize_st(model(batch)[:, :3])
            compressed = jpeg_real(lr, self.quality)
        restored = model(compressed, restore=True)
        loss = self.weight * sum_squares(restored, lr)
        return loss, {"jpeg": float(loss.detach())}

    def _joint_step(self, model: nn.Module, batch: Tensor) -> tuple[Tensor, dict[str, float]]:
        net = unwrap(model)
        assert isinstance(net, IRNJPEG)
        out = model(batch)
        lr, z = out[:, :3], out[:, 3:]
        lr_q = quantize_st(lr)
        self.channel.to(batch.device).train()
        restored = quantize_st(net.crm(self.channel(lr_q)))
        rec = net.irn(torch.cat((restored, torch.randn_like(z)), 1), rev=True)
        target = bicubic_downscale(batch, self.scale).detach()
        terms = {
            "fit": self.joint.get("fit", float(self.scale**2)) * sum_squares(lr, target),
            "latent": self.joint.get("latent", 1.0) * latent_nll(z),
            "jpeg": self.weight * sum_squares(restored, lr_q.detach()),
            "rec": self.joint.get("rec", 1.0) * charbonnier(rec, batch),
        }
        loss = torch.stack(list(terms.values())).sum()
        return loss, {k: float(v.detach()) for k, v in terms.items()}

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


def _load_trained(target: IRNJPEG, source: str) -> None:
    """Start from a trained IRN (the CRM stays the identity) or a trained IRN + CRM.

    One clear error if the source does not fit this architecture.
    """

    def copy(trained: IRN | IRNJPEG) -> None:
        if isinstance(trained, IRNJPEG) and same_architecture(trained.config, target.config):
            target.load_state_dict(trained.state_dict())
        elif isinstance(trained, IRN) and same_architecture(trained.config, target.irn.config):
            target.irn.load_state_dict(trained.state_dict())
        else:
            raise ValueError(
                "it is not an IRN (or IRN + CRM) with this architecture "
                f"({dataclasses.asdict(target.irn.config)})"
            )

    start_from(source, copy, (IRN, IRNJPEG), "IRN")


def same_architecture(a: Any, b: Any) -> bool:
    """Equal configs, whatever their memory-saving setting."""
    return bool(
        dataclasses.asdict(a) | {"memory_saving": False}
        == dataclasses.asdict(b) | {"memory_saving": False}
    )
