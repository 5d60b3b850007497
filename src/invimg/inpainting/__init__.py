"""Diverse inpainting: PD-GAN (Liu et al., CVPR 2021) on a partial-convolution prior.

* :mod:`.masks` — free-form hole generator (binned by hole ratio), user masks
* :mod:`.prior` — the partial-convolution U-Net prior (``pconv-unet``)
* :mod:`.spdnorm` — the hard/soft probability maps and SPDNorm residual blocks
* :mod:`.pdgan` — the generator with its prior (``pdgan``)
* :mod:`.discriminator`, :mod:`.losses`, :mod:`.task`, :mod:`.pdgan_task` — training
* :mod:`.features` — the feature network trained here for perceptual terms (``inpaint-features``)
* :mod:`.api` — ``inpaint`` and ``contact_sheet``; :mod:`.evaluation` — the benchmark
"""

from .api import DEFAULT_MODEL, contact_sheet, inpaint
from .features import FeatureNet
from .masks import load_mask, random_hole
from .pdgan import PDGAN
from .prior import PartialConvUNet

__all__ = [
    "DEFAULT_MODEL",
    "PDGAN",
    "FeatureNet",
    "PartialConvUNet",
    "contact_sheet",
    "inpaint",
    "load_mask",
    "random_hole",
]
