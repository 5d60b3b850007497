"""PD-GAN: a generator that grows an image from noise under the prior's guidance.

    z ~ N(0, I), z_dim × H/2^L × W/2^L
      ─► conv3 ─► [SPDNorm block ─► ConvT ×2] × L ─► LReLU ─► conv3 ─► out
                     ▲ prior P (known pixels pasted back) and mask M, at every block

Differences from the published code, each for a stated reason:

* ``z`` is a spatial noise map (``z_dim`` channels at 1/2^L of the image)
  mapped by a 3×3 convolution, where the published code maps a 256-vector
  by a fully connected layer to a fixed 4×4 grid. The generator is thus fully
  convolutional: trained on 128² crops, it runs on 256² or any multiple of
  ``size_multiple`` without retraining.
* ``output: residual`` (the shipped CPU setting) returns ``P + Δ`` where the
  last convolution starts at zero, instead of ``tanh`` of the last
  convolution (``output: image``, the published form). A network trained
  for tens of CPU minutes cannot learn to paint a photo from noise; it can
  learn to vary the prior's completion, which is what the samples show.
* The prior fed to the blocks is ``P`` with the known pixels pasted back.
* ``output_stride`` (default 1, the published form) lets the generator stop
  at 1/stride of the image and upsample its residual bilinearly. The CPU
  generators trained at stride 1 (``pdgan-cpu*.yaml``) drew a pixel-scale
  checkerboard into every sample, the artefact of transposed convolutions
  (Odena et al., 2016) that a short training never removes: at the same
  pixel difference between samples they lost about three times as much
  SSIM to the prior as stride-4 samples (BENCHMARKS.md). At stride 4 (the shipped
  ``pdgan-small``) the samples are smooth and differ from each other in
  broad bands of shading. Blocks keep the published hard-map schedule *of
  their resolution*: a block at 1/8 of the image uses the published 1/8 entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..zoo import register_architecture
from .prior import PartialConvUNet, composite
from .spdnorm import SPDNormResBlock

#: Published (iterations, kernel) of the hard map per block, coarsest first
#: (blocks at 4², 8², …, 128² of a 256² image); a shorter generator uses the last ones.
PUBLISHED_HARD_SCHEDULE: tuple[tuple[int, int], ...] = (
    (2, 3),
    (3, 3),
    (4, 3),
    (5, 3),
    (6, 5),
    (7, 5),
)


def size_multiple(config: PDGAN.Config) -> int:
    """What image sides must be a multiple of: the generator's and the prior's downsampling."""
    prior_levels = int(config.prior.get("levels", PartialConvUNet.Config.levels))
    return max(2 ** len(config.widths) * config.output_stride, 2**prior_levels)


@register_architecture("pdgan")
class PDGAN(nn.Module):
    """Prior + SPDNorm generator: ``sample(image, known, z)`` is one completion."""

    @dataclass
    class Config:
        widths: list[int] = field(default_factory=lambda: [64, 64, 48, 32, 16])
        z_dim: int = 16
        hidden: int = 32
        k: float = 4.0
        output: Literal["residual", "image"] = "residual"
        output_stride: int = 1
        prior: dict[str, Any] = field(default_factory=dict)

    size_multiple: int

    def __init__(self, config: Config) -> None:
        super().__init__()
        levels = len(config.widths)
        stride = config.output_stride
        if stride < 1 or stride & (stride - 1):
            raise ValueError(f"output_stride must be a power of 2, got {stride}")
        coarser = stride.bit_length() - 1  # log2(stride): published levels the stride skips
        if not 1 <= levels <= len(PUBLISHED_HARD_SCHEDULE) - coarser:
            raise ValueError(
                f"widths must list 1 to {len(PUBLISHED_HARD_SCHEDULE) - coarser} levels "
                f"at output_stride {stride}"
            )
        if config.k <= 1 or config.z_dim < 1 or config.hidden < 1:
            raise ValueError("need k > 1, z_dim >= 1 and hidden >= 1")
        self.config = config
        self.prior = PartialConvUNet(PartialConvUNet.Config(**config.prior))
        self.prior.requires_grad_(False)
        self.levels = levels
        self.size_multiple = size_multiple(config)
        last = len(PUBLISHED_HARD_SCHEDULE) - coarser
        schedule = PUBLISHED_HARD_SCHEDULE[last - levels : last]
        widths = list(config.widths)
        self.head = nn.Conv2d(config.z_dim, widths[0], 3, padding=1)
        self.blocks = nn.ModuleList(
            SPDNormResBlock(c_in, c_out, config.hidden, iterations, kernel, config.k)
            for c_in, c_out, (iterations, kernel) in zip(
                widths, [*widths[1:], widths[-1]], schedule
            )
        )
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1) for c in [*widths[1:], widths[-1]]
        )
        self.to_image = nn.Conv2d(widths[-1], 3, 3, padding=1)
        if config.output == "residual":
            nn.init.zeros_(self.to_image.weight)
            nn.init.zeros_(self.to_image.bias)  # type: ignore[arg-type]

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """Shape of one ``z`` for an image of ``height × width`` (multiples of size_multiple)."""
        scale = 2**self.levels * self.config.output_stride
        return self.config.z_dim, height // scale, width // scale

    def prior_image(self, image: Tensor, known: Tensor) -> Tensor:
        """The prior's completion with the known pixels pasted back (no gradient)."""
        with torch.no_grad():
            return composite(self.prior(image, known), image, known).clamp(0, 1)

    def generate(self, z: Tensor, prior: Tensor, known: Tensor, strength: float = 1.0) -> Tensor:
        """The raw generator output for latents ``z`` (known pixels not yet pasted).

        ``strength`` scales the sample's departure from the prior (1: as
        trained; 0: the prior itself), like the truncation trick of GANs: a
        user trades diversity for fidelity at inference time.
        """
        x = self.head(z)
        for block, up in zip(self.blocks, self.ups):
            x = up(block(x, prior, known))
        delta = self.to_image(F.leaky_relu(x, 0.2))
        if delta.shape[-2:] != prior.shape[-2:]:
            delta = F.interpolate(
                delta, size=prior.shape[-2:], mode="bilinear", align_corners=False
            )
        if self.config.output == "residual":
            return prior + strength * delta
        return prior + strength * ((torch.tanh(delta) + 1) / 2 - prior)

    def forward(self, image: Tensor, known: Tensor, z: Tensor, strength: float = 1.0) -> Tensor:
        """One completion per latent: ``image`` and ``known`` are repeated to ``z``'s batch."""
        prior = self.prior_image(image, known)
        repeat = z.shape[0] // image.shape[0]
        prior_r, known_r = prior.repeat(repeat, 1, 1, 1), known.repeat(repeat, 1, 1, 1)
        out = self.generate(z, prior_r, known_r, strength)
        return composite(out, image.repeat(repeat, 1, 1, 1), known_r).clamp(0, 1)
