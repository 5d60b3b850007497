"""What every hiding network offers: ``hide`` and ``reveal`` on pixel tensors.

HiNet and DeepMIH differ inside (one stage or a cascade of stages), but the
API, the CLI, the training task and the benchmarks only need this contract:

* ``hide(cover, secrets)`` → :class:`HideResult`: the stego image (float,
  not yet rounded), the information each stage lost (``lost``: HiNet's ``r``)
  and the stego after every stage (DeepMIH's intermediate containers, which
  its guiding loss compares with the cover).
* ``reveal(stego, z)`` → :class:`RevealResult`: the secrets, first hidden
  first. ``z`` stands in for the lost information: ``"zeros"``,
  ``"gaussian"`` (seeded through ``generator``) or explicit tensors (the true
  ``lost`` gives an exact round trip).

Images are ``N×3×H×W`` floats in [0, 1]; ``H`` and ``W`` must be multiples
of :attr:`HidingModel.size_multiple` (the API pads for the user).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn

from ..io import quantize_st

if TYPE_CHECKING:
    from ..distortions import Distortion

ZMode = Literal["zeros", "gaussian"]
Z_MODES: tuple[str, ...] = ("zeros", "gaussian")
#: The z used for revealing unless the caller asks otherwise; chosen by
#: measurement (see ``benchmarks/eval_hiding.py --z both`` and the API docs).
DEFAULT_Z: ZMode = "zeros"
ZSpec = ZMode | Sequence[Tensor]


@dataclass
class HideResult:
    """The output of hiding: the final stego and what each stage threw away."""

    stego: Tensor
    lost: list[Tensor]
    stages: list[Tensor] = field(default_factory=list)


@dataclass
class RevealResult:
    """Recovered secrets (in hiding order) and the recovered cover estimate."""

    secrets: list[Tensor]
    cover: Tensor


class HidingModel(nn.Module):
    """Base class of the hiding architectures (subclasses register with the zoo)."""

    config: Any
    #: Image sides must be multiples of this (one Haar level: 2).
    size_multiple: int = 2
    #: Largest side processed in one piece by the API; bigger images go in tiles
    #: so that memory stays bounded (``benchmarks/speed_hiding.py``: HiNet peaks
    #: near 0.56 GB for a 1024² piece, 2.0 GB for 2048² in one piece).
    max_piece: int | None = 1024

    @property
    def num_secrets(self) -> int:
        """How many secret images one stego carries."""
        raise NotImplementedError

    #: Whether ``reveal`` is told what the stego went through (``channel``): RIIS.
    #: The API reads it instead of asking for a class, so a new conditioned
    #: model needs no special case there.
    conditioned_on_channel: bool = False

    @property
    def robust(self) -> bool:
        """True only for models trained to survive lossy compression of the stego."""
        return bool(getattr(self.config, "robust", False))

    def hide(self, cover: Tensor, secrets: Sequence[Tensor]) -> HideResult:
        """Hide ``secrets`` in ``cover``; all ``N×3×H×W`` of the same size."""
        raise NotImplementedError

    def lost_shapes(self, stego: Tensor) -> list[tuple[int, ...]]:
        """Shapes of the lost-information tensors for a stego of this size."""
        raise NotImplementedError

    def reveal_with(self, stego: Tensor, z: Sequence[Tensor]) -> RevealResult:
        """Reveal with explicit stand-ins for the lost information."""
        raise NotImplementedError

    def reveal(
        self,
        stego: Tensor,
        z: ZSpec = "zeros",
        generator: torch.Generator | None = None,
        channel: Distortion | str | None = None,
    ) -> RevealResult:
        """Recover the secrets from ``stego``; ``z`` replaces the lost information.

        ``channel`` (what the stego went through) is for models
        :attr:`conditioned_on_channel`; the others refuse one.
        """
        if channel is not None:
            raise ValueError(f"{type(self).__name__} is not conditioned on a channel")
        return self.reveal_with(stego, self.make_z(stego, z, generator))

    def forward(
        self,
        cover: Tensor,
        secrets: Sequence[Tensor],
        z: ZSpec = "gaussian",
        quantize: bool = True,
        generator: torch.Generator | None = None,
    ) -> tuple[HideResult, RevealResult]:
        """One training pass: hide, round the stego as a PNG would, reveal.

        Both directions run inside ``forward`` so that a DDP-wrapped model
        (whose gradient synchronisation hooks into ``forward``) trains
        correctly. With ``quantize`` the revealing side sees the 8-bit stego
        while gradients pass straight through the rounding
        (:func:`invimg.io.quantize_st`): the network learns to survive it.
        """
        hidden = self.hide(cover, secrets)
        stego = quantize_st(hidden.stego) if quantize else hidden.stego
        return hidden, self.reveal(stego, z, generator)

    def make_z(
        self, stego: Tensor, z: ZSpec, generator: torch.Generator | None = None
    ) -> list[Tensor]:
        """Turn a z choice into tensors of the right shapes on the stego's device."""
        shapes = self.lost_shapes(stego)
        if isinstance(z, str):
            return [sample_z(shape, z, stego, generator) for shape in shapes]
        tensors = list(z)
        if [tuple(t.shape) for t in tensors] != shapes:
            got = [tuple(t.shape) for t in tensors]
            raise ValueError(f"z must have shapes {shapes}, got {got}")
        return tensors


def sample_z(
    shape: tuple[int, ...], mode: str, like: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Zeros, or N(0, 1) drawn on the CPU from ``generator`` (same numbers on any device)."""
    if mode == "zeros":
        return like.new_zeros(shape)
    if mode == "gaussian":
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        return noise.to(device=like.device, dtype=like.dtype)
    raise ValueError(f"z must be one of {', '.join(Z_MODES)} or tensors, got {mode!r}")


def check_images(cover: Tensor, secrets: Sequence[Tensor], expected: int, multiple: int) -> None:
    """Fail early with a clear message on a wrong count, shape or size."""
    if len(secrets) != expected:
        raise ValueError(f"this model hides {expected} secret image(s), got {len(secrets)}")
    if cover.dim() != 4 or cover.shape[1] != 3:
        raise ValueError(f"cover must be N×3×H×W, got {tuple(cover.shape)}")
    for i, s in enumerate(secrets):
        if s.shape != cover.shape:
            raise ValueError(
                f"secret {i + 1} has shape {tuple(s.shape)}, cover {tuple(cover.shape)}"
            )
    if cover.shape[-1] % multiple or cover.shape[-2] % multiple:
        raise ValueError(f"image sides must be multiples of {multiple}, got {tuple(cover.shape)}")
