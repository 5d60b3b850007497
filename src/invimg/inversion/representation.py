"""What every invertible-by-optimisation representation Φ tells the optimiser.

A representation is an ``nn.Module`` mapping an image batch ``(N, C, H, W)``
with values in [0, 1] (``C`` = :attr:`Representation.in_channels`) to a
feature tensor. Besides ``forward`` the optimiser needs four facts, and they
are attributes so that HOG, dense SIFT and any wrapped PyTorch network answer
them the same way:

* ``in_channels``: 1 (HOG and SIFT see grey images, as in the papers) or 3;
* ``centre``: the grey level per channel, in [0, 1], around which the image
  variable lives (the mean image that Mahendran & Vedaldi subtract); the
  α-norm prior pulls pixels towards it;
* ``stride``: how many input pixels one step of the feature grid spans; the
  optimiser jitters the image by about a quarter of it (IJCV 2016, §4);
* ``contrast_invariant``: whether Φ ignores brightness and contrast (HOG,
  SIFT), in which case a reconstruction is shown stretched to the full
  range, as the authors display theirs (``vl_imsc``), rather than clipped.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..io import luma


class Representation(nn.Module):
    """Base class of Φ; subclasses set the attributes in ``__init__`` and define ``forward``."""

    in_channels: int = 3
    stride: int = 1
    contrast_invariant: bool = False
    #: A short human name ("HOG", "conv3"), used in contact sheets.
    label: str = "features"

    def __init__(self) -> None:
        super().__init__()
        self.centre: tuple[float, ...] = (0.5,) * self.in_channels

    def prepare(self, rgb: Tensor) -> Tensor:
        """The input Φ sees for an RGB batch in [0, 1]: its BT.601 luma for grey Φ."""
        if self.in_channels == 1 and rgb.shape[1] == 3:
            return luma(rgb)
        if self.in_channels == 3 and rgb.shape[1] == 1:
            return rgb.expand(-1, 3, -1, -1)
        return rgb

    def features(self, rgb: Tensor) -> Tensor:
        """Φ of an RGB (or grey) batch in [0, 1], without gradients: the target Φ0."""
        with torch.no_grad():
            return self(self.prepare(rgb)).detach()

    def jitter(self) -> int:
        """Pixels of random shift per iteration: a quarter of the stride (IJCV 2016)."""
        return max(round(self.stride / 4), 1)

    def min_size(self) -> int:
        """The smallest image side Φ is defined on (HOG: one cell), checked before it runs.

        An image below it is the user's input problem, not a bug: callers
        refuse it with one line instead of letting ``forward`` raise.
        """
        return 1


def frozen(module: nn.Module) -> nn.Module:
    """``module`` in eval mode with no parameter asking for a gradient (only x is optimised)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module
