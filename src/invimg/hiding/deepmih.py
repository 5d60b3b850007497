"""DeepMIH (Guan, Jing et al., TPAMI 2022): several secrets hidden by a cascade.

Stage 1 is HiNet with both coupling halves affine (sub-networks φ, ψ, ρ, η).
Stage k ≥ 2 hides secret k in the stego of stage k−1, guided by an
*importance map* computed from the cover, secret k−1 and stego k−1; the
map's 12 wavelet channels are concatenated to the cover half::

    cover ─► [stage 1] ─► stego1 ─► [stage 2] ─► stego2 ─► … ─► stego S
    secret1 ─┘   │         │  ▲        ▲  secret2
                 └──► IM(cover, secret1, stego1) ──┘   (12 extra channels)

    stage k forward:  (DWT stego_{k−1} ‖ DWT map | DWT secret_k)   24 | 12 ch
                   →  (DWT stego_k ‖ lost 24 ch)

Revealing runs the stages in reverse: stage S's inverse on
``cat(DWT stego_S, z)`` gives stego S−1 (first 12 channels) and secret S
(last 12), and so on down to stage 1. The importance map is needed only for
hiding; in revealing its slot is part of the lost information ``z``.

Faithful to the published code (TomTomTommi/DeepMIH) for two secrets. The
paper extends the cascade to S secrets with S stages and S−1 maps but the
code stops at two; for stage k ≥ 3 we feed the map the cover, secret k−1 and
stego k−1, the same pattern. ``legacy_secret_slot`` reads secret k ≥ 2 from
the map's slot (channels 12–24), as the released checkpoint was trained to do
(the repository's README documents that bug); our own models use the last 12.

The importance-map network keeps the published layer names (``s_cover``,
``s_secret``, ``s_steg``: three dense "prepare" blocks with squeeze-excitation;
``rrdb``: a dense block with squeeze-excitation before its last convolution).
Its last convolution starts at zero (the published code instead draws every
weight from N(0, 0.1²) and relies on pre-trained stages), so a fresh cascade
starts as if no map were given and training cannot blow up through it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from ..inn import InvertibleSequential, haar_dwt, haar_iwt
from ..zoo import register_architecture
from .base import HideResult, HidingModel, RevealResult, check_images
from .hinet import BANDS, hiding_couplings


class SqueezeExcite(nn.Module):
    """Channel attention (SE-Net): scale each channel by a gate from its global mean."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        gate = self.fc(x.mean(dim=(2, 3)))
        return x * gate[:, :, None, None]


class DenseSE(nn.Module):
    """Densely connected 3×3 convolutions, SE on the concatenation, then a last conv.

    ``depth`` feature convolutions of ``growth`` channels each (2 in the
    prepare blocks, 4 in the map head), LeakyReLU 0.01 as published.
    """

    def __init__(self, c_in: int, c_out: int, growth: int, depth: int) -> None:
        super().__init__()
        # Registered as conv1 … conv{depth+1} (the published names); the list
        # only gives typed access to the same modules.
        self._convs = [nn.Conv2d(c_in + i * growth, growth, 3, padding=1) for i in range(depth)]
        self._convs.append(nn.Conv2d(c_in + depth * growth, c_out, 3, padding=1))
        for i, conv in enumerate(self._convs):
            self.add_module(f"conv{i + 1}", conv)
        self.senet = SqueezeExcite(c_in + depth * growth)
        self.lrelu = nn.LeakyReLU(0.01)

    def last_conv(self) -> nn.Conv2d:
        return self._convs[-1]

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for conv in self._convs[:-1]:
            feats.append(self.lrelu(conv(torch.cat(feats, 1))))
        return self.last_conv()(self.senet(torch.cat(feats, 1)))


class ImportanceMap(nn.Module):
    """DeepMIH's IM module: where the next stage should (not) hide, as a 3-channel image."""

    def __init__(self, width: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.s_cover = DenseSE(3, width, width, depth=2)
        self.s_secret = DenseSE(3, width, width, depth=2)
        self.s_steg = DenseSE(3, width, width, depth=2)
        self.rrdb = DenseSE(3 * width, 3, growth, depth=4)
        last = self.rrdb.last_conv()
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)

    def forward(self, cover: Tensor, secret: Tensor, stego: Tensor) -> Tensor:
        feats = (self.s_cover(cover), self.s_steg(stego), self.s_secret(secret))
        return self.rrdb(torch.cat(feats, 1))


@register_architecture("deepmih")
class DeepMIH(HidingModel):
    """DeepMIH cascade for 2 or 3 secrets; see the module docstring."""

    #: The importance maps work at full resolution with 64–320 channels: one
    #: 1024² piece peaks near 4.8 GB when hiding, a 512² tile near 1.4 GB.
    max_piece = 512

    @dataclass
    class Config:
        """Hyper-parameters; the defaults are the published two-secret network."""

        num_secrets: int = 2
        num_blocks: int = 16
        growth: int = 32
        slope: float = 0.01
        clamp: float = 2.0
        init_scale: float = 0.01
        use_importance_map: bool = True
        map_width: int = 64
        map_growth: int = 32
        legacy_secret_slot: bool = False
        memory_saving: bool = False
        robust: bool = False

    def __init__(self, config: DeepMIH.Config | None = None) -> None:
        super().__init__()
        self.config = c = config or DeepMIH.Config()
        if c.num_secrets not in (2, 3):
            raise ValueError(f"DeepMIH supports 2 or 3 secrets, got {c.num_secrets}")
        self.stages = nn.ModuleList(
            hiding_couplings(
                (3 if k else 2) * BANDS,
                (2 if k else 1) * BANDS,
                c.num_blocks,
                c.growth,
                c.slope,
                c.clamp,
                c.init_scale,
                affine_both_halves=True,
                memory_saving=c.memory_saving,
            )
            for k in range(c.num_secrets)
        )
        maps = c.num_secrets - 1 if c.use_importance_map else 0
        self.importance = nn.ModuleList(
            ImportanceMap(c.map_width, c.map_growth) for _ in range(maps)
        )

    @property
    def num_secrets(self) -> int:
        return int(self.config.num_secrets)

    def load_stages(self, trained: DeepMIH) -> None:
        """Start from a trained cascade with (possibly) fewer secrets.

        Stage ``k`` and the importance map before it come from the trained
        network's stage ``k``, or from its last one where it has fewer: every
        stage after the first has the same shape, and a trained later stage
        already knows how to hide into a stego that carries a secret, so a
        third stage starts far better than from scratch.
        """
        mine = dataclasses.replace(self.config, num_secrets=2, memory_saving=False)
        theirs = dataclasses.replace(trained.config, num_secrets=2, memory_saving=False)
        if mine != theirs:
            raise ValueError(
                f"DeepMIH {dataclasses.asdict(trained.config)} does not match "
                f"{dataclasses.asdict(self.config)} (only num_secrets may differ)"
            )
        for k, stage in enumerate(self.stages):
            stage.load_state_dict(trained.stages[min(k, trained.num_secrets - 1)].state_dict())
        for k, importance in enumerate(self.importance):
            importance.load_state_dict(
                trained.importance[min(k, len(trained.importance) - 1)].state_dict()
            )

    def importance_map(self, k: int, cover: Tensor, secret: Tensor, stego: Tensor) -> Tensor:
        """The map fed to stage ``k`` (k ≥ 1, 0-based), zeros when maps are disabled."""
        if not self.config.use_importance_map:
            return torch.zeros_like(cover)
        return self.importance[k - 1](cover, secret, stego)

    def hide(self, cover: Tensor, secrets: Sequence[Tensor]) -> HideResult:
        check_images(cover, secrets, self.num_secrets, self.size_multiple)
        stego_dwt, stego = haar_dwt(cover), cover
        lost, stages = [], []
        for k, stage in enumerate(self.stages):
            parts = [stego_dwt]
            if k:
                parts.append(haar_dwt(self.importance_map(k, cover, secrets[k - 1], stego)))
            out = stage(torch.cat((*parts, haar_dwt(secrets[k])), 1))
            stego_dwt, lost_k = out[:, :BANDS], out[:, BANDS:]
            stego = haar_iwt(stego_dwt)
            lost.append(lost_k)
            stages.append(stego)
        return HideResult(stego=stego, lost=lost, stages=stages)

    def lost_shapes(self, stego: Tensor) -> list[tuple[int, ...]]:
        n, _, h, w = stego.shape
        return [(n, (2 if k else 1) * BANDS, h // 2, w // 2) for k in range(self.num_secrets)]

    def reveal_with(self, stego: Tensor, z: Sequence[Tensor]) -> RevealResult:
        stego_dwt = haar_dwt(stego)
        secrets: list[Tensor] = []
        for k in reversed(range(self.num_secrets)):
            stage = cast(InvertibleSequential, self.stages[k])
            back = stage.inverse(torch.cat((stego_dwt, z[k]), 1))
            slot = BANDS if k and self.config.legacy_secret_slot else back.shape[1] - BANDS
            secrets.insert(0, haar_iwt(back[:, slot : slot + BANDS]))
            stego_dwt = back[:, :BANDS]
        return RevealResult(secrets=secrets, cover=haar_iwt(stego_dwt))
