"""The ``rescaling`` training task: IRN (×2/×3/×4/×8) and IRN-Color, as published.

YAML sections (see ``training/recipes/irn*.yaml``)::

    task: rescaling
    model: {kind: irn, scale: 4, blocks: 8, ...}   # kind: irn | irn-color; rest = Config
    loss:  {fit: null, rec: 1, latent: 1, z_scale: null}

``fit: null`` means the published ``scale²`` (IRN-Color: 3); ``z_scale: null``
means the published sampling of ``z`` in the reconstruction loss (IRN:
N(0, I); IRN-Color: 0). One training step (``IRN_model.optimize_parameters``)::

    out = net(x);  y, z = out[:, :c], out[:, c:]
    loss = fit·Σ(y − target(x))² + latent·Σz² + rec·Charbonnier(x, net⁻¹([Q(y), z_scale·ε]))

``target`` is the antialiased bicubic LR (IRN) or the luma (IRN-Color);
``Q`` is 8-bit quantisation with a straight-through gradient. Validation
measures what a user gets: PSNR on Y (BT.601, border crop = scale) after the
LR is quantised, with ``z = 0`` and with ``z ~ N(0, I)``.

``kind: irn-jpeg`` trains the compression recovery module of a frozen IRN
instead (:mod:`invimg.rescaling.compression_task`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..io import quantize_st
from ..metrics import psnr_per_image
from ..training import TrainConfig, register_task
from ..training.checkpoint import warm_start as start_from
from ..training.config import build_section, check_crops
from ..training.distributed import unwrap
from .color import IRNColor, luma
from .compression_task import JPEGRecoveryTask, same_architecture
from .irn import IRN, check_config
from .losses import LossWeights, bicubic_downscale, criterion, latent_nll

KINDS: dict[str, type[IRN] | type[IRNColor]] = {"irn": IRN, "irn-color": IRNColor}


@dataclasses.dataclass
class RescalingLoss(LossWeights):
    """Loss weights plus the scale of ``z`` fed to the reconstruction loss."""

    z_scale: float | None = None


def parse_model_section(section: dict[str, Any]) -> IRN.Config | IRNColor.Config:
    """The validated config named by ``model.kind`` and the rest of the ``model`` section."""
    fields = dict(section)
    kind = fields.pop("kind", "irn")
    cls = KINDS.get(kind)
    if cls is None:
        known_kinds = ", ".join([*KINDS, "irn-jpeg"])
        raise ConfigError(f"model.kind must be one of {known_kinds}, got {kind!r}")
    known = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ConfigError(f"unknown model keys for {kind}: {unknown} (known: {sorted(known)})")
    # type-checked like the rest of the recipe: `--set model.blocks=two` is one clear error
    config = cast(IRN.Config | IRNColor.Config, build_section(cls.Config, fields, "model."))
    try:
        if isinstance(config, IRN.Config):
            check_config(config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model: {exc}") from None
    return config


def build_from_config(config: IRN.Config | IRNColor.Config) -> IRN | IRNColor:
    """The model of a parsed ``model`` section."""
    return IRN(config) if isinstance(config, IRN.Config) else IRNColor(config)


class RescalingTask:
    """IRN's published objective and a user-facing validation (see the module docstring)."""

    def __init__(self, config: TrainConfig) -> None:
        section = dict(config.model)
        #: a shipped name or card to start from: a run continued after its folder is gone
        self.init_from: str | None = section.pop("init_from", None)
        self.model_config = parse_model_section(section)
        self.is_color = isinstance(self.model_config, IRNColor.Config)
        if isinstance(self.model_config, IRN.Config):
            self.scale, self.c = self.model_config.scale, self.model_config.channels
        else:
            self.scale, self.c = 1, 1
        self.loss = _loss_config(config.loss)
        self.fit_weight = (
            3.0 if self.is_color and self.loss.fit is None else (self.loss.fit_weight(self.scale))
        )
        default_z = 0.0 if self.is_color else 1.0
        self.z_scale = default_z if self.loss.z_scale is None else self.loss.z_scale
        self.fit_loss = criterion(self.loss.fit_criterion)
        self.rec_loss = criterion(self.loss.rec_criterion)
        check_crops(config.data, self.scale, f"the scale {self.scale}")
        if config.data.size_multiple % self.scale:
            raise ConfigError(f"data.size_multiple must be a multiple of the scale {self.scale}")
        if getattr(self.model_config, "haar", False) and config.data.size_multiple % 2:
            raise ConfigError("model.haar needs even image sides: set data.size_multiple: 2")

    def build_model(self) -> nn.Module:
        model = build_from_config(self.model_config)
        if self.init_from:
            warm_start(model, self.init_from)
        return model

    def target(self, x: Tensor) -> Tensor:
        """What the visible output should look like: bicubic LR or the luma."""
        return luma(x) if self.is_color else bicubic_downscale(x, self.scale)

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        out = model(batch)
        lr, z = out[:, : self.c], out[:, self.c :]
        l_fit = self.fit_weight * self.fit_loss(lr, self.target(batch).detach())
        l_latent = self.loss.latent * latent_nll(z)
        noise = self.z_scale * torch.randn_like(z) if self.z_scale else torch.zeros_like(z)
        rec = model(torch.cat((quantize_st(lr), noise), 1), rev=True)
        l_rec = self.loss.rec * self.rec_loss(rec, batch)
        loss = l_fit + l_latent + l_rec
        terms = {"fit": l_fit, "latent": l_latent, "rec": l_rec}
        return loss, {k: float(v.detach()) for k, v in terms.items()}

    @torch.no_grad()
    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        net = unwrap(model)
        lr, z = net.encode(batch)  # type: ignore[operator]
        lr_q = quantize_st(lr)
        if self.is_color:
            return self._validate_color(net, batch, lr_q)
        crop = self.scale
        rec0 = net.decode(lr_q).clamp(0, 1)  # type: ignore[operator]
        rec_g = net.decode(lr_q, torch.randn_like(z)).clamp(0, 1)  # type: ignore[operator]
        lr_ref = self.target(batch).clamp(0, 1)
        return {
            "psnr_y_z0": _mean_psnr(rec0, batch, crop),
            "psnr_y_zgauss": _mean_psnr(rec_g, batch, crop),
            "psnr_y_lr": _mean_psnr(lr_q, lr_ref, 1 if min(lr.shape[-2:]) > 2 else 0),
            "z_std": float(z.std()),
        }

    def _validate_color(self, net: nn.Module, batch: Tensor, grey_q: Tensor) -> dict[str, float]:
        rec = net.decode(grey_q).clamp(0, 1)  # type: ignore[operator]
        target = luma(batch)
        mse = (grey_q - target).pow(2).flatten(1).mean(1).clamp_min(1e-12)
        return {
            "psnr_rgb_z0": float(psnr_per_image(rec, batch, channel="rgb").mean()),
            "psnr_y_z0": _mean_psnr(rec, batch, 0),
            "psnr_grey": float((-10 * torch.log10(mse)).mean()),
        }


def warm_start(model: IRN | IRNColor, source: str) -> None:
    """Copy a trained model of the same architecture and shape (shipped name, card or
    published IRN checkpoint; see :func:`invimg.training.checkpoint.warm_start`)."""

    def copy(trained: IRN | IRNColor) -> None:
        if type(trained) is not type(model) or not same_architecture(trained.config, model.config):
            raise ValueError(f"it is not a {type(model).__name__} with this model section")
        model.load_state_dict(trained.state_dict())

    start_from(source, copy, (IRN, IRNColor), "rescaling (IRN or IRN-Color)")


def _mean_psnr(a: Tensor, b: Tensor, crop: int) -> float:
    return float(psnr_per_image(a, b, channel="y", crop_border=crop, quantize=True).mean())


def _loss_config(section: dict[str, Any]) -> RescalingLoss:
    loss = build_section(RescalingLoss, dict(section), "loss.", what="loss")
    try:
        criterion(loss.fit_criterion), criterion(loss.rec_criterion)
    except ValueError as exc:
        raise ConfigError(f"loss: {exc}") from None
    return loss


@register_task("rescaling")
def rescaling_task(config: TrainConfig) -> RescalingTask | JPEGRecoveryTask:
    """Factory registered with the trainer as ``task: rescaling`` (``model.kind`` picks)."""
    if config.model.get("kind") == "irn-jpeg":
        return JPEGRecoveryTask(config)
    return RescalingTask(config)
