"""The multi-scale PatchGAN discriminator of PD-GAN (pix2pixHD / SPADE style).

Each scale sees ``[hole mask, image]`` (the image at full, then half, …
resolution) and returns its intermediate features (for feature matching)
and a map of real/fake scores, one per overlapping patch:

    x ─► conv4/2·LReLU ─► [conv4/2·IN·LReLU] × (layers−1) ─► conv4/1·IN·LReLU ─► conv4/1 ─► scores

Convolutions are spectrally normalised (published ``norm_D: spectralinstance``).
``frozen=True`` runs the very same network with its weights detached: the
generator's adversarial and feature-matching terms then move only the
generator (see :mod:`invimg.inpainting.pdgan_task`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass
class DiscriminatorConfig:
    """Width of the first layer, strided layers per scale, and number of scales."""

    width: int = 32
    layers: int = 3
    scales: int = 2


class _Layer(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, norm: bool, act: bool) -> None:
        super().__init__()
        self.conv = spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=stride, padding=2))
        self.stride, self.padding = stride, 2
        self.norm, self.act = norm, act

    def forward(self, x: Tensor, frozen: bool) -> Tensor:
        weight = cast(Tensor, self.conv.weight)  # spectrally normalised on access
        bias = cast(Tensor | None, self.conv.bias)
        if frozen:
            weight = weight.detach()
            bias = bias.detach() if bias is not None else None
        x = F.conv2d(x, weight, bias, self.stride, self.padding)
        if self.norm:
            x = F.instance_norm(x)
        return F.leaky_relu(x, 0.2) if self.act else x


class PatchDiscriminator(nn.Module):
    """One PatchGAN scale."""

    def __init__(self, c_in: int, width: int, layers: int) -> None:
        super().__init__()
        chain = [_Layer(c_in, width, 2, norm=False, act=True)]
        c = width
        for _ in range(layers - 1):
            chain.append(_Layer(c, min(2 * c, 8 * width), 2, norm=True, act=True))
            c = min(2 * c, 8 * width)
        chain.append(_Layer(c, c, 1, norm=True, act=True))
        chain.append(_Layer(c, 1, 1, norm=False, act=False))
        self.chain = nn.ModuleList(chain)

    def forward(self, x: Tensor, frozen: bool = False) -> list[Tensor]:
        """Every layer's output; the last one is the score map."""
        outs = []
        for layer in self.chain:
            x = layer(x, frozen)
            outs.append(x)
        return outs


class MultiScaleDiscriminator(nn.Module):
    """``scales`` PatchGANs on the input downsampled 1×, 2×, 4×, …"""

    def __init__(self, config: DiscriminatorConfig, c_in: int = 4) -> None:
        super().__init__()
        if config.width < 1 or config.layers < 1 or config.scales < 1:
            raise ValueError("discriminator width, layers and scales must be >= 1")
        self.scales = nn.ModuleList(
            PatchDiscriminator(c_in, config.width, config.layers) for _ in range(config.scales)
        )

    def forward(self, hole: Tensor, image: Tensor, frozen: bool = False) -> list[list[Tensor]]:
        """Per scale, the list of layer outputs for ``[hole, image]``."""
        x = torch.cat([hole, image], 1)
        results = []
        for i, scale in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            results.append(scale(x, frozen))
        return results
