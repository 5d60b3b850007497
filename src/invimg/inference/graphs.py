"""The fixed inference graphs of the shipped models: what can be exported and compiled.

A *graph* is one tensor-in, tensor-out pass of a model with no Python
control flow that depends on the data: hiding's ``hide`` / ``reveal``, IRN's
``down`` / ``up``, Steg-cINN's ``embed`` / ``extract``, PD-GAN's
``generate`` and the HOG decoder's ``decode``. Each is a small wrapper
module, so that the eager backend and the exported ONNX graph run the very
same definition (nothing to drift apart). What stays in eager PyTorch around
them (padding, tiles, rounding, drawing ``z``) is cheap and identical for
every backend.

Models without a fixed graph (RIIS's channel-conditioned reveal, the
optimisation-based inversion) get ``None`` and run eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

#: Every graph kind, in the order ``invimg export --onnx`` lists them.
KINDS = ("hide", "reveal", "down", "up", "embed", "extract", "generate", "decode")


@dataclass(frozen=True)
class Graph:
    """One exportable pass: the wrapper ``module`` and its tensor interface.

    ``example`` builds small inputs for tracing (sides that are not equal,
    so the exporter cannot confuse height and width); ``spatial`` names the
    inputs and outputs whose last two axes are dynamic.
    """

    kind: str
    module: nn.Module
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    example: Callable[[], tuple[Tensor, ...]]
    scalars: tuple[str, ...] = ()

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """Batch, height and width free on every image tensor (scalars stay fixed)."""
        names = [n for n in (*self.inputs, *self.outputs) if n not in self.scalars]
        return {n: {0: "batch", 2: f"{n}_height", 3: f"{n}_width"} for n in names}


class _Call(nn.Module):
    """A wrapper module around one method: ``fn(model, *tensors)``.

    The model is a registered submodule, so ``state_dict`` (and the
    exported initialisers) are the model's own weights.
    """

    def __init__(self, model: nn.Module, fn: Callable[..., Tensor | tuple[Tensor, ...]]) -> None:
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *tensors: Tensor) -> Tensor | tuple[Tensor, ...]:
        return self.fn(self.model, *tensors)


def _images(count: int, channels: int, height: int, width: int) -> Callable[[], tuple[Tensor, ...]]:
    """A factory of ``count`` random ``1×channels×height×width`` example tensors."""

    def make() -> tuple[Tensor, ...]:
        gen = torch.Generator().manual_seed(0)
        return tuple(torch.rand(1, channels, height, width, generator=gen) for _ in range(count))

    return make


def _example_side(multiple: int) -> tuple[int, int]:
    """A small, non-square example size on the model's grid."""
    side = multiple * max(2, 32 // multiple)
    return side, side + multiple


def graph_for(model: nn.Module, kind: str) -> Graph | None:
    """The ``kind`` graph of ``model``, or ``None`` when it has none (eager only)."""
    for builder in _BUILDERS:
        graph = builder(model, kind)
        if graph is not None:
            return graph
    return None


def kinds_of(model: nn.Module) -> list[str]:
    """The graph kinds ``model`` offers (what ``invimg export --onnx`` writes)."""
    return [kind for kind in KINDS if graph_for(model, kind) is not None]


# -- hiding ------------------------------------------------------------------------


def _hiding(model: nn.Module, kind: str) -> Graph | None:
    from ..hiding.base import HidingModel

    if not isinstance(model, HidingModel) or kind not in ("hide", "reveal"):
        return None
    k = model.num_secrets
    h, w = _example_side(model.size_multiple)
    secrets = tuple(f"secret{i}" for i in range(1, k + 1))
    if kind == "hide":
        return Graph(
            "hide", _Call(model, _hide), ("cover", *secrets), ("stego",), _images(1 + k, 3, h, w)
        )
    if model.conditioned_on_channel:
        return None  # the reveal takes the channel as input: no fixed graph
    stego = torch.zeros(1, 3, h, w)
    z_names = tuple(f"z{i}" for i in range(1, len(model.lost_shapes(stego)) + 1))

    def example() -> tuple[Tensor, ...]:
        gen = torch.Generator().manual_seed(0)
        zs = [torch.randn(s, generator=gen) for s in model.lost_shapes(stego)]
        return (torch.rand(1, 3, h, w, generator=gen), *zs)

    return Graph("reveal", _Call(model, _reveal), ("stego", *z_names), secrets, example)


def _hide(model: nn.Module, cover: Tensor, *secrets: Tensor) -> Tensor:
    return model.hide(cover, list(secrets)).stego  # type: ignore[operator]


def _reveal(model: nn.Module, stego: Tensor, *z: Tensor) -> tuple[Tensor, ...]:
    return tuple(model.reveal_with(stego, list(z)).secrets)  # type: ignore[operator]


# -- rescaling ---------------------------------------------------------------------


def _rescaling(model: nn.Module, kind: str) -> Graph | None:
    from ..rescaling.color import IRNColor
    from ..rescaling.compression import IRNJPEG
    from ..rescaling.irn import IRN

    if not isinstance(model, IRN | IRNJPEG | IRNColor) or kind not in ("down", "up"):
        return None
    s = model.scale
    h, w = _example_side(s * getattr(model, "size_multiple", 1))
    if kind == "down":
        return Graph("down", _Call(model, _down), ("hr",), ("lr",), _images(1, 3, h * s, w * s))
    channels = model.lr_channels + model.z_channels
    return Graph("up", _Call(model, _up), ("joint",), ("hr",), _images(1, channels, h, w))


def _down(model: nn.Module, hr: Tensor) -> Tensor:
    return model(hr)[:, : model.lr_channels]


def _up(model: nn.Module, joint: Tensor) -> Tensor:
    return model(joint, rev=True)


# -- Steg-cINN ---------------------------------------------------------------------


def _datahiding(model: nn.Module, kind: str) -> Graph | None:
    from ..datahiding.model import StegCINN

    if not isinstance(model, StegCINN) or kind not in ("embed", "extract"):
        return None
    h, w = _example_side(model.size_multiple)
    latent = model.output_shape((2, h, w))
    if kind == "embed":

        def example() -> tuple[Tensor, ...]:
            gen = torch.Generator().manual_seed(0)
            z = torch.randn(1, *latent, generator=gen)
            return z, 100 * torch.rand(1, 1, h, w, generator=gen), 100 * torch.rand(1, 1, h, w)

        inputs = ("latent", "condition", "lightness")
        return Graph("embed", _Call(model, _embed), inputs, ("ab",), example)

    def example_extract() -> tuple[Tensor, ...]:
        gen = torch.Generator().manual_seed(0)
        return 40 * torch.randn(1, 2, h, w, generator=gen), 100 * torch.rand(1, 1, h, w)

    return Graph("extract", _Call(model, _extract), ("ab", "lightness"), ("z",), example_extract)


def _embed(model: nn.Module, latent: Tensor, condition: Tensor, lightness: Tensor) -> Tensor:
    run, features = model.run, model.condition
    return run(latent, features(condition), lightness, reverse=True)[0]  # type: ignore[operator]


def _extract(model: nn.Module, ab: Tensor, lightness: Tensor) -> Tensor:
    run, features = model.run, model.condition
    return run(ab, features(lightness), lightness)[0]  # type: ignore[operator]


# -- inpainting and inversion ----------------------------------------------------------


def _pdgan(model: nn.Module, kind: str) -> Graph | None:
    from ..inpainting.pdgan import PDGAN

    if not isinstance(model, PDGAN) or kind != "generate":
        return None
    h, w = _example_side(model.size_multiple)

    def example() -> tuple[Tensor, ...]:
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(1, *model.latent_shape(h, w), generator=gen)
        known = (torch.rand(1, 1, h, w, generator=gen) > 0.3).float()
        return z, torch.rand(1, 3, h, w, generator=gen), known, torch.tensor(0.7)

    inputs = ("z", "prior", "known", "strength")
    return Graph(
        "generate", _Call(model, _generate), inputs, ("image",), example, scalars=("strength",)
    )


def _generate(
    model: nn.Module, z: Tensor, prior: Tensor, known: Tensor, strength: Tensor
) -> Tensor:
    return model.generate(z, prior, known, strength)  # type: ignore[operator]


def _hog_decoder(model: nn.Module, kind: str) -> Graph | None:
    from ..inversion.decoder import HOGDecoder

    if not isinstance(model, HOGDecoder) or kind != "decode":
        return None
    channels = 3 * model.config.orientations
    example = _images(1, channels, 6, 7)
    return Graph("decode", _Call(model, _decode), ("features",), ("image",), example)


def _decode(model: nn.Module, features: Tensor) -> Tensor:
    return model(features)


_BUILDERS = (_hiding, _rescaling, _datahiding, _pdgan, _hog_decoder)
