"""PD-GAN's training step: one model holding G and D, one loss that moves each by its own.

See :mod:`invimg.inpainting.task` for the recipe and why a single optimiser
suffices. Per step, for a batch of ``B`` crops with masks:

* the prior completes each crop once (frozen, no gradient);
* the generator draws two samples per crop, ``z_A`` and ``z_B`` (a ``2B`` batch);
* D scores ``[hole, real]`` and ``[hole, composite(fake)]`` (hinge loss, fakes detached);
* G minimises, through D with detached weights, the hinge term and pix2pixHD
  feature matching, plus reconstruction (L1 and perceptual, on the raw
  output as published) and the inverse perceptual diversity loss of the two
  samples inside the hole.

D sees the composite (known pixels pasted) rather than the raw output the
published code feeds it: the composite is what a user gets, and D then
cannot win on the known region, which the blend discards anyway.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..training import TrainConfig
from ..training.config import build_section, check_crops
from ..training.distributed import unwrap
from .discriminator import DiscriminatorConfig, MultiScaleDiscriminator
from .losses import (
    diversity_distance,
    diversity_loss,
    feature_l1,
    feature_matching,
    hinge_d,
    hinge_g,
)
from .pdgan import PDGAN, size_multiple
from .prior import composite
from .task_parts import batch_known, load_frozen, mean_psnr, step_rng, validation_known


@dataclasses.dataclass
class PDGANLoss:
    """Loss weights (published: perceptual 10, feature matching 10, GAN 1, diversity 1)."""

    l1: float = 1.0
    perceptual: float = 1.0
    feature_matching: float = 10.0
    adversarial: float = 1.0
    diversity: float = 1.0
    diversity_eps: float = 1e-5


class PDGANTrainer(nn.Module):
    """What the trainer optimises: the PD-GAN model and its discriminator (+ frozen features).

    ``forward`` returns the loss, so DDP synchronises both networks' gradients.
    """

    def __init__(
        self,
        net: PDGAN,
        discriminator: MultiScaleDiscriminator,
        features: nn.Module,
        loss: PDGANLoss,
    ) -> None:
        super().__init__()
        self.net, self.discriminator, self.loss = net, discriminator, loss
        self.features = [features]  # a list: not a submodule, so not in the checkpoint

    def forward(self, image: Tensor, known: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The joint loss ``L_G + L_D`` and its terms for one batch."""
        b = image.shape[0]
        features = self.features[0].to(image.device)
        prior = self.net.prior_image(image, known)
        z = torch.randn(2 * b, *self.net.latent_shape(*image.shape[-2:]), device=image.device)
        image2, known2, prior2 = (t.repeat(2, 1, 1, 1) for t in (image, known, prior))
        raw = self.net.generate(z, prior2, known2)
        fake = composite(raw, image2, known2)
        hole, hole2 = 1 - known, 1 - known2
        w = self.loss
        d_real = self.discriminator(hole, image)  # each real crop once, shared by both samples
        d_fake_detached = self.discriminator(hole2, fake.detach())
        loss_d = hinge_d([s[-1] for s in d_real], [s[-1] for s in d_fake_detached])
        d_fake = self.discriminator(hole2, fake, frozen=True)
        real_feats = [[f.repeat(2, 1, 1, 1) for f in s[:-1]] for s in d_real]
        with torch.no_grad():
            target = [f.repeat(2, 1, 1, 1) for f in features(image)]
        feats = features(raw)
        terms = {
            "adv": w.adversarial * hinge_g([s[-1] for s in d_fake]),
            "fm": w.feature_matching * feature_matching(real_feats, [s[:-1] for s in d_fake]),
            "l1": w.l1 * (raw - image2).abs().mean(),
            "perc": w.perceptual * feature_l1(feats, target),
            "div": w.diversity
            * diversity_loss([f[:b] for f in feats], [f[b:] for f in feats], hole, w.diversity_eps),
            "d": loss_d,
        }
        return torch.stack(list(terms.values())).sum(), terms


class PDGANTask:
    """Trains :class:`PDGAN` on a frozen prior with a multi-scale discriminator."""

    def __init__(self, config: TrainConfig) -> None:
        fields = dict(config.model)
        fields.pop("kind")
        prior_ref = fields.pop("prior", None)
        features_ref = fields.pop("features", None)
        d_fields = {k[2:]: fields.pop(k) for k in list(fields) if k.startswith("d_")}
        if not prior_ref or not features_ref:
            raise ConfigError("model.prior and model.features must name trained networks")
        self.prior = load_frozen(str(prior_ref), "prior")
        self.prior_fields = dataclasses.asdict(self.prior.config)  # type: ignore[call-overload]
        fields["prior"] = self.prior_fields
        self.model_config = build_section(PDGAN.Config, fields, "model.")
        self.d_config = build_section(DiscriminatorConfig, d_fields, "model.d_")
        self.features = load_frozen(str(features_ref), "features")
        self.loss = build_section(PDGANLoss, dict(config.loss), "loss.")
        self.seed = config.seed
        multiple = size_multiple(self.model_config)
        check_crops(config.data, multiple)

    def build_model(self) -> nn.Module:
        try:
            net = PDGAN(self.model_config)
        except ValueError as exc:
            raise ConfigError(f"model: {exc}") from None
        net.prior.load_state_dict(self.prior.state_dict())
        return PDGANTrainer(net, MultiScaleDiscriminator(self.d_config), self.features, self.loss)

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        known = batch_known(batch, step_rng(self.seed, step))
        loss, terms = model(batch, known)
        return loss, {k: float(v.detach()) for k, v in terms.items()}

    def shipped_model(self, model: nn.Module) -> nn.Module:
        """``invimg export`` ships the generator (prior inside), not the discriminator."""
        trainer: Any = unwrap(model)
        net: PDGAN = trainer.net
        return net

    @torch.no_grad()
    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        trainer: Any = unwrap(model)
        net: PDGAN = trainer.net
        known = validation_known(batch).to(batch.device)
        generator = torch.Generator().manual_seed(0)
        shape = (2 * batch.shape[0], *net.latent_shape(*batch.shape[-2:]))
        z = torch.randn(shape, generator=generator).to(batch.device)
        samples = net(batch, known, z)
        a, b = samples[: batch.shape[0]], samples[batch.shape[0] :]
        prior = net.prior_image(batch, known)
        feats = trainer.features[0].to(batch.device)
        return {
            "psnr_prior": mean_psnr(prior, batch),
            "psnr_sample": (mean_psnr(a, batch) + mean_psnr(b, batch)) / 2,
            "diversity": float(diversity_distance(feats(a), feats(b), 1 - known)),
        }
