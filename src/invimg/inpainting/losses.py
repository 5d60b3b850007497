"""The loss terms of the prior and of PD-GAN.

Prior (partial convolutions, Liu et al. 2018): L1 on the known pixels and,
weighted more, on the hole; a perceptual term and total variation.

PD-GAN (Liu et al. 2021, §3.3): reconstruction, feature matching, hinge
adversarial loss, and the *perceptual diversity loss*

    L_div = 1 / ( Σ_i ‖ F_i(I_out1) ⊙ (1−M) − F_i(I_out2) ⊙ (1−M) ‖₁ + ε )

features of two samples drawn with different ``z``, compared only inside
the hole (``1 − M``). Maximising a distance directly rewards pushing two
samples to black and white; the inverse form saturates once the samples
are reasonably apart. The published code applies it to one VGG layer
(relu4_1) of the masked images; here ``F_i`` are the layers of the feature
network trained in this repo (:mod:`invimg.inpainting.features`), each
layer's mask the hole resized to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def masked_l1(a: Tensor, b: Tensor, weight: Tensor) -> Tensor:
    """Mean absolute difference over all pixels, each weighted (0 outside the region)."""
    return ((a - b).abs() * weight).mean()


def total_variation(image: Tensor, region: Tensor) -> Tensor:
    """Mean absolute difference between neighbours whose both pixels lie in ``region``."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs() * region[..., :, 1:] * region[..., :, :-1]
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs() * region[..., 1:, :] * region[..., :-1, :]
    return dx.mean() + dy.mean()


def dilate(region: Tensor, pixels: int = 1) -> Tensor:
    """``region`` grown by ``pixels`` in every direction (max pooling)."""
    return F.max_pool2d(region, 2 * pixels + 1, stride=1, padding=pixels)


def perceptual(features: nn.Module, a: Tensor, b: Tensor) -> Tensor:
    """Mean over the feature network's layers of the mean L1 distance of features."""
    return feature_l1(features(a), features(b))


def feature_l1(feats_a: Sequence[Tensor], feats_b: Sequence[Tensor]) -> Tensor:
    """Mean over layers of the mean L1 distance of two lists of feature maps."""
    return torch.stack([(x - y).abs().mean() for x, y in zip(feats_a, feats_b)]).mean()


def diversity_distance(
    feats_a: Sequence[Tensor], feats_b: Sequence[Tensor], hole: Tensor
) -> Tensor:
    """Mean L1 distance of two samples' features inside the hole, summed over layers."""
    total = hole.new_zeros(())
    for fa, fb in zip(feats_a, feats_b):
        m = F.interpolate(hole, size=fa.shape[-2:], mode="area")
        total = total + ((fa - fb).abs() * m).sum() / (m.sum() * fa.shape[1]).clamp_min(1.0)
    return total


def diversity_loss(
    feats_a: Sequence[Tensor], feats_b: Sequence[Tensor], hole: Tensor, eps: float
) -> Tensor:
    """PD-GAN's inverse perceptual diversity loss (see the module docstring)."""
    return 1.0 / (diversity_distance(feats_a, feats_b, hole) + eps)


def hinge_d(real: Sequence[Tensor], fake: Sequence[Tensor]) -> Tensor:
    """Discriminator hinge loss, averaged over the scales of a multi-scale D."""
    terms = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake)]
    return torch.stack(terms).mean()


def hinge_g(fake: Sequence[Tensor]) -> Tensor:
    """Generator hinge loss: raise D's score of the fakes."""
    return torch.stack([-f.mean() for f in fake]).mean()


def feature_matching(real: Sequence[Sequence[Tensor]], fake: Sequence[Sequence[Tensor]]) -> Tensor:
    """pix2pixHD's L1 between D's intermediate features of real and fake, per scale."""
    total = real[0][0].new_zeros(())
    for r_scale, f_scale in zip(real, fake):
        for r, f in zip(r_scale, f_scale):
            total = total + (f - r.detach()).abs().mean()
    return total / len(real)
