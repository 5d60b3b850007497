"""RIIS (Xu et al., CVPR 2022): HiNet hiding that survives a distorted stego.

HiNet reveals from the stego's wavelet bands and a stand-in ``z`` for the
lost information ``r``; JPEG or noise on the stego breaks both. RIIS keeps
the invertible network and adds two reveal-side networks, both told which
channel the stego went through::

                  HiNet (invimg.hiding.HiNet, unchanged)
    cover, secret ──► couplings ──► stego ──► channel (JPEG q, noise σ, …) ──► received
                                                                                  │
                      condition c = [one-hot kind, severity] ──► embedding e      │
                                                                  │               ▼
                                   container enhancement  CEM(received; e) ──► container
                                   noise projection       CANP(container; e) ──► z ≈ r
                                                                                  │
    secret, cover' ◄── couplings⁻¹ ◄── (DWT(container), z) ◄──────────────────────┘

* **Container enhancement module** (CEM): restores the distorted stego before
  the reverse pass (trained to give back the clean 8-bit stego).
* **Content-aware noise projection** (CANP): predicts ``z`` from the
  container instead of sampling it (trained towards the true ``r``).
* **Distortion-guided modulation** (DGM): every residual block of both
  networks is FiLM-modulated, ``h·(1 + γ(e)) + β(e)``, by an embedding of the
  distortion's condition vector (:meth:`invimg.distortions.Distortion.condition`),
  so one model serves every kind and strength.

Both networks work on the orthonormal Haar bands (12 channels at half
resolution: a wider view for the same cost) and start as the identity and as
``z = 0`` (zero last convolutions, zero FiLM), so a RIIS made from a trained
HiNet (:meth:`RIIS.from_hinet`) reveals exactly as that HiNet does with
``z = "zeros"`` before any fine-tuning. The paper publishes no code; the
sub-network sizes here are ours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..distortions import CONDITION_DIM, Distortion, parse_distortion
from ..inn import haar_dwt, haar_iwt
from ..io import quantize_st
from ..zoo import register_architecture
from .base import HideResult, HidingModel, RevealResult, ZSpec
from .hinet import BANDS, HiNet

#: What a channel argument may be: a distortion, its text form ("jpeg:75"), or None.
ChannelLike = Distortion | str | None


@dataclass
class RobustReveal(RevealResult):
    """A reveal through RIIS: the secrets plus what the reveal side computed on the way."""

    container: Tensor | None = None  # the enhanced stego the couplings inverted
    z: Tensor | None = None  # the z they used (projected, or given)
    channel: str = ""  # the condition's distortion, as text
    sent: Tensor | None = None  # training passes: the 8-bit stego before the channel
    received: Tensor | None = None  # training passes: the stego after the channel


class ModulatedBlock(nn.Module):
    """Residual block ``h + conv(FiLM(act(conv(h)), e))`` with a zero-initialised FiLM."""

    def __init__(self, features: int, width: int, slope: float = 0.2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)
        self.act = nn.LeakyReLU(slope)
        self.film = nn.Linear(width, 2 * features)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, h: Tensor, embedding: Tensor) -> Tensor:
        gamma, beta = self.film(embedding)[:, :, None, None].chunk(2, dim=1)
        hidden = self.act(self.conv1(h)) * (1 + gamma) + beta
        return h + self.conv2(hidden)


class ModulatedNet(nn.Module):
    """Head conv, modulated residual blocks, zero-initialised tail conv (outputs 0 at first)."""

    def __init__(self, c_in: int, c_out: int, features: int, blocks: int, width: int) -> None:
        super().__init__()
        self.head = nn.Conv2d(c_in, features, 3, padding=1)
        self.blocks = nn.ModuleList(ModulatedBlock(features, width) for _ in range(blocks))
        self.tail = nn.Conv2d(features, c_out, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)  # type: ignore[arg-type]

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        h = self.head(x)
        for block in self.blocks:
            h = block(h, embedding)
        return self.tail(h)


class ConditionEmbedding(nn.Sequential):
    """``[one-hot kind, severity]`` → a ``width``-vector that the FiLM layers read."""

    def __init__(self, width: int) -> None:
        super().__init__(
            nn.Linear(CONDITION_DIM, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, width),
            nn.LeakyReLU(0.2),
        )


class ContainerEnhancement(nn.Module):
    """CEM: ``container = received + net(received; e)`` in the Haar domain (identity at first)."""

    def __init__(self, features: int, blocks: int, width: int) -> None:
        super().__init__()
        self.embed = ConditionEmbedding(width)
        self.net = ModulatedNet(BANDS, BANDS, features, blocks, width)

    def forward(self, received: Tensor, condition: Tensor) -> Tensor:
        # the residual is computed on the bands and added in pixels (the IWT is
        # linear): an untrained CEM returns its input bit for bit
        return received + haar_iwt(self.net(haar_dwt(received), self.embed(condition)))


class NoiseProjection(nn.Module):
    """CANP: the lost information ``r`` predicted from the container (``z = 0`` at first)."""

    def __init__(self, features: int, blocks: int, width: int) -> None:
        super().__init__()
        self.embed = ConditionEmbedding(width)
        self.net = ModulatedNet(BANDS, BANDS, features, blocks, width)

    def forward(self, container: Tensor, condition: Tensor) -> Tensor:
        return self.net(haar_dwt(container), self.embed(condition))


@register_architecture("riis")
class RIIS(HidingModel):
    """HiNet (``self.flow``) plus CEM, CANP and their modulation; see the module docstring."""

    @dataclass
    class Config(HiNet.Config):
        """HiNet's fields (the invertible part) and the reveal-side networks' sizes."""

        #: Channels and residual blocks of the CEM and of the CANP; width of the embedding.
        features: int = 64
        enhance_blocks: int = 4
        project_blocks: int = 4
        condition_width: int = 64
        #: The channel assumed when the caller names none: an 8-bit PNG.
        default_channel: str = "round:8"
        #: A RIIS reveals through its CEM: lossy stegos are what it is for.
        robust: bool = True

    def __init__(self, config: RIIS.Config | None = None) -> None:
        super().__init__()
        self.config = c = config or RIIS.Config()
        parse_distortion(c.default_channel)  # a bad default fails at build time
        self.flow = HiNet(hinet_config(c))
        self.enhance = ContainerEnhancement(c.features, c.enhance_blocks, c.condition_width)
        self.project = NoiseProjection(c.features, c.project_blocks, c.condition_width)

    @classmethod
    def from_hinet(cls, hinet: HiNet, **fields: Any) -> RIIS:
        """A RIIS whose invertible part is ``hinet`` (weights copied); ``fields`` size the rest."""
        shared = {k: v for k, v in dataclasses.asdict(hinet.config).items() if k != "robust"}
        model = cls(cls.Config(**shared, **fields))
        model.load_hinet(hinet)
        return model

    def load_hinet(self, hinet: HiNet) -> None:
        """Copy a trained HiNet into the invertible part; refuse one of another shape."""
        if hinet_config(self.config) != dataclasses.replace(
            hinet.config, robust=False, memory_saving=self.config.memory_saving
        ):
            raise ValueError(
                f"HiNet {dataclasses.asdict(hinet.config)} does not match this RIIS's "
                f"invertible part {dataclasses.asdict(hinet_config(self.config))}"
            )
        self.flow.load_state_dict(hinet.state_dict())

    @property
    def num_secrets(self) -> int:
        return 1

    def hide(self, cover: Tensor, secrets: Sequence[Tensor]) -> HideResult:
        return self.flow.hide(cover, secrets)

    def lost_shapes(self, stego: Tensor) -> list[tuple[int, ...]]:
        return self.flow.lost_shapes(stego)

    def channel_of(self, channel: ChannelLike) -> Distortion:
        """The distortion a reveal is conditioned on (the config's default for None)."""
        if isinstance(channel, Distortion):
            return channel
        return parse_distortion(channel or self.config.default_channel)

    conditioned_on_channel = True

    def reveal(
        self,
        stego: Tensor,
        z: ZSpec = "zeros",
        generator: torch.Generator | None = None,
        channel: ChannelLike = None,
    ) -> RobustReveal:
        """Enhance the (distorted) stego, project z, invert the couplings.

        ``z`` given as a mode (``"zeros"``, ``"gaussian"``) is added to the
        projection; given as tensors it replaces the projection (with the true
        ``r`` and an undistorted stego this is HiNet's exact round trip once
        the CEM is the identity).
        """
        distortion = self.channel_of(channel)
        condition = distortion.condition(stego.shape[0], stego.device).to(stego.dtype)
        container = self.enhance(stego, condition)
        (z_used,) = self.make_z(container, z, generator)
        if isinstance(z, str):
            z_used = z_used + self.project(container, condition)
        out = self.flow.reveal_with(container, [z_used])
        return RobustReveal(
            out.secrets, out.cover, container=container, z=z_used, channel=distortion.spec
        )

    def reveal_with(self, stego: Tensor, z: Sequence[Tensor]) -> RevealResult:
        return self.reveal(stego, z)

    def forward(
        self,
        cover: Tensor,
        secrets: Sequence[Tensor],
        z: ZSpec = "zeros",
        quantize: bool = True,
        generator: torch.Generator | None = None,
        distortion: Distortion | None = None,
    ) -> tuple[HideResult, RobustReveal]:
        """One training pass: hide, round to 8 bits, distort, round again, reveal.

        ``distortion`` runs in this model's mode (its approximation while
        training, the real channel in eval mode); the reveal is conditioned on
        it. Rounding is straight-through, as in :class:`HidingModel`.
        """
        hidden = self.hide(cover, secrets)
        sent = quantize_st(hidden.stego) if quantize else hidden.stego
        channel = self.channel_of(distortion)
        channel.train(self.training)
        received = channel(sent, generator)
        received = quantize_st(received) if quantize else received
        revealed = self.reveal(received, z, generator, channel=channel)
        revealed.sent, revealed.received = sent, received
        return hidden, revealed


def hinet_config(config: RIIS.Config) -> HiNet.Config:
    """The HiNet config of a RIIS's invertible part."""
    names = {f.name for f in dataclasses.fields(HiNet.Config)} - {"robust"}
    return HiNet.Config(**{n: getattr(config, n) for n in names})
