"""Φ = the activations of one layer of any PyTorch network, by a forward hook.

>>> phi = TorchFeatures(net, "features.8", mean=IMAGENET_MEAN, std=IMAGENET_STD)
>>> phi(images)            # images (N, 3, H, W) in [0, 1] -> that layer's output

``layer`` is a name from ``net.named_modules()`` (``""``: the network's
output). The hook records the layer's output the first time the layer runs
and stops the forward pass there, so a shallow layer of a deep network costs
only the layers before it, and an in-place ReLU after the layer cannot
overwrite what was recorded. Inputs are normalised as ``(x − mean) / std``
per channel before the network sees them (``mean``/``std`` in [0, 1] units,
e.g. :data:`IMAGENET_MEAN`, :data:`IMAGENET_STD` for torchvision/timm
ImageNet models); the image variable is centred on ``mean``, as the authors
centre theirs on the network's average image.

The stride that sets the jitter is measured, not declared: two forward
passes with every module hooked, at the image's size and 64 pixels larger,
give how many input pixels one row of each activation up to the layer
spans; the largest is the stride (for a fully connected layer, that of the
last spatial activation before it, as the receptive field stride the
authors take from ``vl_simplenn_display``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from ..errors import UsageError
from .representation import Representation, frozen

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Pixels added to the input to measure the stride (up to 64 is measured exactly).
PROBE = 64


class _Stop(Exception):
    """Raised by the hook to end the forward pass once the layer has run."""


def find_layer(net: nn.Module, layer: str) -> nn.Module:
    """The submodule called ``layer``, or a UsageError listing some valid names."""
    modules = dict(net.named_modules())
    if layer not in modules:
        names = [n for n in modules if n]
        shown = ", ".join(names[:30]) + (", …" if len(names) > 30 else "")
        raise UsageError(f"no layer {layer!r} in {type(net).__name__} (layers: {shown})")
    return modules[layer]


class TorchFeatures(Representation):
    """Φ(x) = output of ``layer`` of ``net`` for the normalised RGB image x."""

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        net: nn.Module,
        layer: str = "",
        *,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__()
        self.net = frozen(net)
        self.layer = layer
        self.target = find_layer(net, layer)
        mean_t = torch.tensor(tuple(mean) if mean is not None else (0.0, 0.0, 0.0))
        std_t = torch.tensor(tuple(std) if std is not None else (1.0, 1.0, 1.0))
        if mean_t.numel() != 3 or std_t.numel() != 3 or bool((std_t <= 0).any()):
            raise UsageError("mean and std need 3 values each, std > 0")
        self.register_buffer("mean", mean_t.view(1, 3, 1, 1).float())
        self.register_buffer("std", std_t.view(1, 3, 1, 1).float())
        self.centre = tuple(float(m) for m in mean) if mean is not None else (0.5, 0.5, 0.5)
        self.label = label or (layer or "output")
        self.stride = 1

    def forward(self, x: Tensor) -> Tensor:
        out = self._run((x - self.mean) / self.std)
        if not isinstance(out, Tensor):
            raise UsageError(
                f"layer {self.layer!r} returns {type(out).__name__}, not a tensor; pick another"
            )
        return out

    def _run(self, x: Tensor) -> Any:
        if self.layer == "":
            return self.net(x)
        box: list[Any] = []

        def hook(_m: nn.Module, _i: Any, out: Any) -> None:
            box.append(out)
            raise _Stop

        handle = self.target.register_forward_hook(hook)
        try:
            self.net(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        if not box:
            raise UsageError(f"layer {self.layer!r} did not run in the forward pass")
        return box[0]

    def measure_stride(self, height: int, width: int) -> int:
        """Set (and return) :attr:`stride` from forward passes at and beyond ``height × width``.

        Growing the input by ``PROBE`` pixels grows an activation of stride s
        by ``PROBE/s`` rows, whatever the padding; a network that takes only
        one input size falls back to ``⌊input side / activation side⌋``.
        """
        first = self._activation_rows(height, width)
        try:
            grown = self._activation_rows(height + PROBE, width + PROBE)
        except (RuntimeError, ValueError):
            grown = []
        if len(grown) == len(first) and first:
            steps = [PROBE / (b - a) for a, b in zip(first, grown) if b > a]
            self.stride = max(1, round(max(steps, default=1.0)))
        else:
            self.stride = max([height // rows for rows in first if rows], default=1)
        return self.stride

    def _activation_rows(self, height: int, width: int) -> list[int]:
        """The heights of the 4-D activations produced up to the layer, in order."""
        rows: list[int] = []
        handles: list[RemovableHandle] = []

        def record(_m: nn.Module, _i: Any, out: Any) -> None:
            if isinstance(out, Tensor) and out.ndim == 4:
                rows.append(int(out.shape[-2]))

        for module in self.net.modules():
            if module is not self.net:
                handles.append(module.register_forward_hook(record))
        try:
            with torch.no_grad():
                self(torch.full((1, 3, height, width), 0.5, device=self.mean.device))
        finally:
            for h in handles:
                h.remove()
        return rows

    def extra_repr(self) -> str:
        return f"layer={self.layer!r}, stride={self.stride}"
