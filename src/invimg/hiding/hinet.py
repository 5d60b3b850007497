"""HiNet (Jing et al., ICCV 2021): one secret image hidden by an invertible network.

::

    cover ──DWT──┐                                  ┌─ first 12 ──IWT──► stego
                 ├─ cat (24 ch) ─► 16 couplings ───►┤
    secret ─DWT──┘   (12 | 12)     ρ, η, φ dense    └─ last 12 ─────────► r (lost)

    stego ──DWT──┐                                  ┌─ first 12 ──IWT──► cover estimate
                 ├─ cat ─► the same couplings, ────►┤
    z ───────────┘        inverted, last to first   └─ last 12 ──IWT──► secret

Each coupling is :func:`invimg.inn.hinet_coupling`'s equation
``y1 = x1 + φ(x2); y2 = x2·exp(clamp·(2σ(ρ(y1))−1)) + η(y1)`` with clamp 2,
and every sub-network is the 5-convolution dense block (growth 32, LeakyReLU
0.01). The Haar transform is the orthonormal, band-major one of the published
code, so the published checkpoint loads by renaming keys only
(:mod:`invimg.hiding.published`) and reproduces its outputs.

Initialisation is the published one: every weight and bias drawn from
N(0, init_scale²), the last convolution of each dense block zero, so the
untrained network hides nothing and reveals the cover's twin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..inn import AffineCoupling, InvertibleSequential, dense_block_factory, haar_dwt, haar_iwt
from ..zoo import register_architecture
from .base import HideResult, HidingModel, RevealResult, check_images

#: Channels of one RGB image after one Haar level.
BANDS = 12


def hiding_couplings(
    channels: int,
    split: int,
    num_blocks: int,
    growth: int,
    slope: float,
    clamp: float,
    init_scale: float,
    *,
    affine_both_halves: bool = False,
    memory_saving: bool = False,
) -> InvertibleSequential:
    """The stack of dense-block couplings shared by HiNet and every DeepMIH stage."""
    factory = dense_block_factory(growth, slope, init="gaussian", init_scale=init_scale)
    blocks = [
        AffineCoupling(channels, split, factory, clamp=clamp, affine_both_halves=affine_both_halves)
        for _ in range(num_blocks)
    ]
    return InvertibleSequential(*blocks, memory_saving=memory_saving)


@register_architecture("hinet")
class HiNet(HidingModel):
    """HiNet: ``hide(cover, [secret])`` and ``reveal(stego, z)``; see the module docstring."""

    @dataclass
    class Config:
        """HiNet's hyper-parameters; the defaults are the published network."""

        num_blocks: int = 16
        growth: int = 32
        slope: float = 0.01
        clamp: float = 2.0
        init_scale: float = 0.01
        memory_saving: bool = False
        #: True only for a model trained to survive lossy compression (none yet).
        robust: bool = False

    def __init__(self, config: HiNet.Config | None = None) -> None:
        super().__init__()
        self.config = config or HiNet.Config()
        c = self.config
        self.couplings = hiding_couplings(
            2 * BANDS,
            BANDS,
            c.num_blocks,
            c.growth,
            c.slope,
            c.clamp,
            c.init_scale,
            memory_saving=c.memory_saving,
        )

    @property
    def num_secrets(self) -> int:
        return 1

    def hide(self, cover: Tensor, secrets: Sequence[Tensor]) -> HideResult:
        check_images(cover, secrets, 1, self.size_multiple)
        out = self.couplings(torch.cat((haar_dwt(cover), haar_dwt(secrets[0])), 1))
        stego = haar_iwt(out[:, :BANDS])
        return HideResult(stego=stego, lost=[out[:, BANDS:]], stages=[stego])

    def lost_shapes(self, stego: Tensor) -> list[tuple[int, ...]]:
        n, _, h, w = stego.shape
        return [(n, BANDS, h // 2, w // 2)]

    def reveal_with(self, stego: Tensor, z: Sequence[Tensor]) -> RevealResult:
        back = self.couplings.inverse(torch.cat((haar_dwt(stego), z[0]), 1))
        return RevealResult(secrets=[haar_iwt(back[:, BANDS:])], cover=haar_iwt(back[:, :BANDS]))

    def load_shallower(self, trained: HiNet) -> None:
        """Start a deeper HiNet from a trained one: its couplings first, then identities.

        The extra couplings keep their fresh initialisation, whose last convolutions
        are zero, so each is the identity and the deeper model hides and reveals
        exactly as ``trained`` does before it learns anything. This buys depth
        without giving up the CPU-hours already spent (issue #16).
        """
        ours, theirs = self.config, trained.config
        same_shape = (ours.growth, ours.slope, ours.clamp) == (
            theirs.growth,
            theirs.slope,
            theirs.clamp,
        )
        if not same_shape or theirs.num_blocks > ours.num_blocks:
            raise ValueError(
                f"a HiNet of {theirs.num_blocks} couplings of growth {theirs.growth} cannot "
                f"start one of {ours.num_blocks} of growth {ours.growth}"
            )
        for mine, learned in zip(self.couplings.blocks, trained.couplings.blocks, strict=False):
            mine.load_state_dict(learned.state_dict())
