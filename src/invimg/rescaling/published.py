"""Read the published IRN checkpoints (``pkuxmq/Invertible-Image-Rescaling``).

The published code saves the plain ``state_dict`` of ``InvRescaleNet``:
``operations.{i}.haar_weights`` for each Haar step (a fixed ±1 filter bank
that we verify, since our Haar block has no weights) and
``operations.{i}.{F,G,H}.conv{1..5}.{weight,bias}`` for each InvBlockExp.
Their sub-networks map onto our coupling's by role: ``F`` is the additive
shift of the first half (φ, ``phi``), ``H`` the log-scale of the second (ρ,
``rho``) and ``G`` its shift (η, ``eta``). Operation ``i`` is our block ``i``
because both networks list the same steps in the same order.
"""

from __future__ import annotations

import os
import re

import torch
from torch import Tensor

from ..errors import ModelError
from ..zoo.cards import read_torch_checkpoint, register_format
from .irn import IRN

_SUBNET = {"F": "phi", "H": "rho", "G": "eta"}
_KEY = re.compile(r"^(?:module\.)?operations\.(\d+)\.(F|G|H)\.(conv[1-5]\.(?:weight|bias))$")
_HAAR = re.compile(r"^(?:module\.)?operations\.(\d+)\.haar_weights$")

# IRN's Haar filters per channel, rows = bands, flattened 2×2 kernels (row-major).
_HAAR_FILTERS = torch.tensor(
    [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=torch.float32
)


def convert_published_state(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[int]]:
    """Rename a published state dict to ours; also return the Haar steps' indices.

    A ``module.`` prefix (a checkpoint saved from ``DataParallel``) is accepted.
    Haar filters are checked against IRN's published signs, because a model
    built with other filters would load "successfully" and compute nonsense.
    """
    converted: dict[str, Tensor] = {}
    haar_steps: list[int] = []
    for key, value in state.items():
        if match := _HAAR.match(key):
            _check_haar(key, value)
            haar_steps.append(int(match.group(1)))
        elif match := _KEY.match(key):
            index, subnet, rest = match.groups()
            converted[f"net.blocks.{index}.{_SUBNET[subnet]}.{rest}"] = value
        else:
            raise ModelError(f"not an IRN checkpoint: unexpected key {key!r}")
    return converted, sorted(haar_steps)


def _check_haar(key: str, weights: Tensor) -> None:
    channels = weights.shape[0] // 4
    expected = _HAAR_FILTERS.repeat(channels, 1).view(-1, 1, 2, 2)
    if weights.shape != expected.shape or not torch.equal(weights.float(), expected):
        raise ModelError(f"{key}: these are not IRN's Haar filters")


def config_from_state(converted: dict[str, Tensor], haar_steps: list[int]) -> IRN.Config:
    """Infer the published architecture (scale, blocks per stage, growth) from the weights."""
    if not haar_steps:
        raise ModelError("only IRN checkpoints with Haar steps (×2, ×4, ×8) can be read")
    block_ids = {int(k.split(".")[2]) for k in converted}
    stages = len(haar_steps)
    blocks, remainder = divmod(len(block_ids), stages)
    layout = [s * (blocks + 1) for s in range(stages)]
    if remainder or blocks < 1 or layout != haar_steps:
        raise ModelError(f"unsupported IRN layout: Haar steps at {haar_steps}")
    first = converted[f"net.blocks.{haar_steps[0] + 1}.phi.conv1.weight"]
    growth, phi_in = first.shape[0], first.shape[1]
    channels = converted[f"net.blocks.{haar_steps[0] + 1}.phi.conv5.weight"].shape[0]
    if phi_in + channels != 4 * channels:
        raise ModelError("unsupported IRN checkpoint: the split is not the image channels")
    return IRN.Config(scale=2**stages, blocks=blocks, channels=channels, growth=growth)


def load_published_irn(path: str | os.PathLike[str], device: str = "cpu") -> IRN:
    """Build an :class:`IRN` from a published ``IRN_x{2,4,8}.pth`` checkpoint (eval mode)."""
    state = read_torch_checkpoint(path, "IRN checkpoint")
    if not isinstance(state, dict):
        raise ModelError(f"{path}: expected a state_dict")
    state = state.get("state_dict", state)
    converted, haar_steps = convert_published_state(state)
    model = IRN(config_from_state(converted, haar_steps))
    missing, unexpected = model.load_state_dict(converted, strict=False)
    if missing or unexpected:
        raise ModelError(
            f"{path}: checkpoint does not fit IRN ×{model.scale}: "
            f"missing {missing[:2]}, unexpected {unexpected[:2]}"
        )
    return model.to(device).eval()


register_format(IRN, (".pth",), load_published_irn)
