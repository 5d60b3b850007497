"""The ``inpainting`` training task: the feature network, the prior, and PD-GAN.

One task, three stages picked by ``model.kind`` (recipes in
``training/recipes/inpaint-*.yaml`` and ``pdgan-*.yaml``)::

    task: inpainting
    model: {kind: features, widths: [16, 32, 64]}          # denoising autoencoder
    model: {kind: prior, width: 32, levels: 5, features: runs/inpaint-features-cpu}
    model: {kind: pdgan, prior: runs/inpaint-prior-cpu, features: runs/inpaint-features-cpu,
            k: 4.0, ... generator fields ..., d_width: 32, d_layers: 3, d_scales: 2}

``features`` / ``prior`` name a run folder (its ``last.pt``), a shipped model
or a model card; they are loaded frozen.

Masks are drawn per step by :func:`invimg.inpainting.masks.training_known`
from a generator seeded with ``(seed, step)``, so a resumed run sees the very
masks an uninterrupted one would.

**Two optimisers in one trainer.** The shared trainer owns one Adam over
``model.parameters()``. For PD-GAN the model is a :class:`PDGANTrainer`
holding the generator *and* the discriminator, and one step minimises

    L = L_G(G; D frozen) + L_D(D; G frozen)

where ``L_G`` is computed through the discriminator with its weights
*detached* (so it moves only G) and ``L_D`` on detached fakes (so it moves
only D). The gradient each network receives is exactly that of its own
loss, and checkpoints, resume, rollback and DDP work unchanged. What differs
from the published alternating updates: both networks step at once from
the same state (simultaneous gradient descent), with one learning rate
(the published code gives G lr/2 and D 2·lr), and ``grad_clip`` acts on the
joint norm.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..metrics import ssim_per_image
from ..training import TrainConfig, register_task
from ..training.config import build_section, check_crops
from ..training.distributed import unwrap
from .features import FeatureNet, corrupted
from .losses import dilate, masked_l1, perceptual, total_variation
from .pdgan_task import PDGANTask
from .prior import PartialConvUNet, composite
from .task_parts import batch_known, load_frozen, mean_psnr, step_rng, validation_known

KINDS = ("features", "prior", "pdgan")


@dataclasses.dataclass
class PriorLoss:
    """Weights of the prior's loss (Liu et al. 2018: valid 1, hole 6, perceptual 0.05, TV 0.1).

    ``hole_l2`` (mean squared error in the hole, not in Liu et al.) targets
    PSNR, the measure this prior is judged by.
    """

    valid: float = 1.0
    hole: float = 6.0
    hole_l2: float = 0.0
    perceptual: float = 0.05
    tv: float = 0.1


class FeatureTask:
    """The feature network as a denoising autoencoder (see :mod:`invimg.inpainting.features`)."""

    def __init__(self, config: TrainConfig) -> None:
        fields = {k: v for k, v in config.model.items() if k != "kind"}
        self.model_config = build_section(FeatureNet.Config, fields, "model.")
        if config.data.crop % 4 or (config.data.val_crop or 4) % 4:
            raise ConfigError("data.crop and data.val_crop must be multiples of 4")
        if config.loss:
            raise ConfigError("model.kind=features takes no loss section")

    def build_model(self) -> nn.Module:
        return FeatureNet(self.model_config)

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        rebuilt = model(corrupted(batch), with_reconstruction=True)[-1]
        loss = (rebuilt - batch).abs().mean()
        return loss, {"l1": float(loss.detach())}

    @torch.no_grad()
    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        generator = torch.Generator().manual_seed(0)
        rebuilt = unwrap(model)(corrupted(batch, generator), with_reconstruction=True)[-1]
        return {"psnr_denoised": mean_psnr(rebuilt, batch)}


class PriorTask:
    """The partial-convolution prior with Liu et al.'s hole/valid/perceptual/TV loss."""

    def __init__(self, config: TrainConfig) -> None:
        fields = {k: v for k, v in config.model.items() if k not in ("kind", "features")}
        self.model_config = build_section(PartialConvUNet.Config, fields, "model.")
        self.loss = build_section(PriorLoss, dict(config.loss), "loss.")
        multiple = 2**self.model_config.levels
        check_crops(config.data, multiple, f"{multiple} (2**levels)")
        ref = config.model.get("features")
        if self.loss.perceptual and not ref:
            raise ConfigError("model.features: name the feature network (or set loss.perceptual=0)")
        self.features = load_frozen(str(ref), "features") if self.loss.perceptual else None
        self.seed = config.seed

    def build_model(self) -> nn.Module:
        return PartialConvUNet(self.model_config)

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        known = batch_known(batch, step_rng(self.seed, step))
        out = model(batch, known)
        hole = 1 - known
        terms = {
            "valid": self.loss.valid * masked_l1(out, batch, known),
            "hole": self.loss.hole * masked_l1(out, batch, hole),
            "hole_l2": self.loss.hole_l2 * ((out - batch).pow(2) * hole).mean(),
            "tv": self.loss.tv * total_variation(composite(out, batch, known), dilate(hole)),
        }
        if self.features is not None:
            self.features.to(batch.device)
            terms["perceptual"] = self.loss.perceptual * (
                perceptual(self.features, out, batch)
                + perceptual(self.features, composite(out, batch, known), batch)
            )
        loss = torch.stack(list(terms.values())).sum()
        return loss, {k: float(v.detach()) for k, v in terms.items()}

    @torch.no_grad()
    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        known = validation_known(batch).to(batch.device)
        out = composite(unwrap(model)(batch, known), batch, known).clamp(0, 1)
        ssim = ssim_per_image(out, batch, quantize=True).mean()
        return {"psnr": mean_psnr(out, batch), "ssim": float(ssim)}


@register_task("inpainting")
def inpainting_task(config: TrainConfig) -> Any:
    """Factory registered as ``task: inpainting``; ``model.kind`` picks the stage."""
    kind: Literal["features", "prior", "pdgan"] | Any = config.model.get("kind")
    if kind == "features":
        return FeatureTask(config)
    if kind == "prior":
        return PriorTask(config)
    if kind == "pdgan":
        return PDGANTask(config)
    raise ConfigError(f"model.kind must be one of {', '.join(KINDS)}, got {kind!r}")
