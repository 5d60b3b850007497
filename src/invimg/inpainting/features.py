"""A small feature network trained here, standing in for VGG in the perceptual terms.

PD-GAN's perceptual, diversity and (in the published code) reconstruction
losses compare VGG-19/16 features of ImageNet-trained networks. None can be
downloaded here, so invimg trains its own: a 3-stage CNN (widths 16/32/64 by
default) learned *self-supervised* on random crops of ``data/train-small`` as
the encoder of a denoising autoencoder: a light decoder must rebuild the
clean crop from the deepest features (1/4 resolution) of a copy with
Gaussian noise and cut-out squares. So the features must describe edges,
textures and colours of the scene, robustly — what a perceptual loss needs —
and no labels are involved. (Rotation prediction, Gidaris et al. 2018, was
tried first: on 64² crops of these photos and wallpapers it stayed at chance
for the first hundreds of steps, so it would not fit the CPU budget.)

The same network measures diversity at evaluation time (an LPIPS-like
distance: per-layer channel-normalised features, squared differences,
averaged over channels, upsampled to the image and summed over the layers),
so it ships with the inpainting models (``inpaint-features``).

    image ─► [conv3·ReLU]×2 ─► f1 ─► pool ─► [conv3·ReLU]×2 ─► f2 ─► pool ─► [conv3·ReLU]×2 ─► f3
    training only: f3 ─► up ─► conv3·ReLU ─► up ─► conv3·ReLU ─► conv3 ─► clean image
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..zoo import register_architecture

#: Mean and spread used to centre [0, 1] pixels before the first convolution.
PIXEL_MEAN, PIXEL_STD = 0.45, 0.25


@register_architecture("inpaint-features")
class FeatureNet(nn.Module):
    """Three feature maps (full, 1/2, 1/4 resolution) and the decoder that trained them."""

    @dataclass
    class Config:
        widths: tuple[int, int, int] = (16, 32, 64)

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        stages: list[nn.Module] = []
        c_in = 3
        for width in config.widths:
            stages.append(_double_conv(c_in, width))
            c_in = width
        self.stages = nn.ModuleList(stages)
        w1, w2, w3 = config.widths
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2.0, mode="nearest"),
            nn.Conv2d(w3, w2, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2.0, mode="nearest"),
            nn.Conv2d(w2, w1, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(w1, 3, 3, padding=1),
        )

    def forward(self, image: Tensor, with_reconstruction: bool = False) -> list[Tensor]:
        """Feature maps of each stage for a ``B×3×H×W`` image in [0, 1].

        ``with_reconstruction`` appends the decoder's rebuilt image, so
        training goes through ``forward`` (what DDP synchronises).
        """
        x = (image - PIXEL_MEAN) / PIXEL_STD
        feats: list[Tensor] = []
        for i, stage in enumerate(self.stages):
            if i:
                x = F.avg_pool2d(x, 2, ceil_mode=True)
            x = stage(x)
            feats.append(x)
        if with_reconstruction:
            feats.append(self.decoder(x) * PIXEL_STD + PIXEL_MEAN)
        return feats


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.ReLU(inplace=True),
    )


def corrupted(batch: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """The denoising autoencoder's input: Gaussian noise (σ 0.1) and 2 cut-out squares."""
    noisy = batch + 0.1 * torch.randn(batch.shape, generator=generator).to(batch)
    n, _, h, w = batch.shape
    side = max(1, min(h, w) // 8)
    for i in range(n):
        for _ in range(2):
            top = int(torch.randint(0, h - side + 1, (1,), generator=generator))
            left = int(torch.randint(0, w - side + 1, (1,), generator=generator))
            noisy[i, :, top : top + side, left : left + side] = 0.5
    return noisy.clamp(0, 1)


def normalized(feature: Tensor, eps: float = 1e-6) -> Tensor:
    """Unit length along channels at every position (LPIPS's normalisation)."""
    return feature / (feature.pow(2).sum(1, keepdim=True).sqrt() + eps)


def distance_map(features: nn.Module, a: Tensor, b: Tensor) -> Tensor:
    """LPIPS-like per-pixel distance ``B×1×H×W`` between images ``a`` and ``b``.

    Each layer's channel-normalised squared difference, averaged over
    channels, is upsampled (bilinear) to the image size; the layers are summed.
    """
    return feature_distance_map(
        [normalized(f) for f in features(a)], [normalized(f) for f in features(b)], a.shape[-2:]
    )


def feature_distance_map(
    feats_a: list[Tensor], feats_b: list[Tensor], size: tuple[int, int] | torch.Size
) -> Tensor:
    """:func:`distance_map` from channel-normalised features computed beforehand."""
    total = feats_a[0].new_zeros(feats_a[0].shape[0], 1, *size)
    for fa, fb in zip(feats_a, feats_b):
        d = (fa - fb).pow(2).mean(1, keepdim=True)
        total = total + F.interpolate(d, size=size, mode="bilinear", align_corners=False)
    return total
