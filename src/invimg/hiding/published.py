"""Load checkpoints written by the published HiNet and DeepMIH training scripts.

Both scripts save ``{"net": state_dict, "opt": ...}`` of a model wrapped in
``nn.DataParallel``, so keys carry ``module.`` (and ``module.model.``)
prefixes and the papers' single-letter sub-network names. Only names change
here; the tensors are used as they are, which is what makes our networks
reproduce the published outputs.

=================================  ==========================================
published key                      invimg key
=================================  ==========================================
HiNet ``module.model.invN.r.…``    ``couplings.blocks.{N-1}.rho.…``
HiNet ``…invN.y.…`` / ``….f.…``    ``….eta.…`` / ``….phi.…``
DeepMIH ``module.model.invN.p.dense.…``   ``stages.{k}.blocks.{N-1}.psi.…``
DeepMIH IM ``module.s_cover.…``    ``importance.0.s_cover.…``
=================================  ==========================================

The published importance-map network also holds a non-local block that its
``forward`` never calls; those keys are dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ..errors import ModelError
from ..zoo.cards import load_state_checked, read_torch_checkpoint, register_format
from .deepmih import DeepMIH
from .hinet import HiNet

_SUBNETS = {"f": "phi", "p": "psi", "r": "rho", "y": "eta"}
_BLOCK_KEY = re.compile(r"^(?:module\.)?(?:model\.)?inv(\d+)\.([fpry])\.(?:dense\.)?(.+)$")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """The network state dict of a published checkpoint (``{"net": …}`` or plain)."""
    raw = read_torch_checkpoint(path, "checkpoint")
    state = raw.get("net", raw) if isinstance(raw, dict) else None
    if not isinstance(state, Mapping):
        raise ModelError(f"{path} is not a HiNet/DeepMIH checkpoint (no 'net' state dict)")
    return {k: v for k, v in state.items() if "tmp_var" not in k}


def convert_couplings(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Rename ``invN.{f,p,r,y}[.dense].convK.*`` keys to ``{prefix}blocks.{N-1}.{name}.…``."""
    out: dict[str, Tensor] = {}
    for key, tensor in state.items():
        match = _BLOCK_KEY.match(key)
        if match is None:
            raise ModelError(f"unexpected key {key!r} in a published hiding checkpoint")
        block, net, rest = int(match[1]) - 1, _SUBNETS[match[2]], match[3]
        out[f"{prefix}blocks.{block}.{net}.{rest}"] = tensor
    return out


def convert_importance(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Strip ``module.``, drop the unused non-local block, add ``prefix``."""
    out: dict[str, Tensor] = {}
    for key, tensor in state.items():
        name = key.removeprefix("module.")
        if not name.startswith("nonlocal_block."):
            out[prefix + name] = tensor
    return out


def _depth_and_growth(state: Mapping[str, Tensor], prefix: str) -> tuple[int, int]:
    """Number of coupling blocks and dense-block growth of converted keys under ``prefix``."""
    depth = len({k[len(prefix) :].split(".")[1] for k in state if k.startswith(prefix)})
    growth = int(state[f"{prefix}blocks.0.rho.conv1.weight"].shape[0])
    return depth, growth


def hinet_from_state(state: Mapping[str, Tensor]) -> HiNet:
    """A HiNet holding the weights of a published state dict (depth and growth inferred)."""
    converted = convert_couplings(state, "couplings.")
    blocks, growth = _depth_and_growth(converted, "couplings.")
    model = HiNet(HiNet.Config(num_blocks=blocks, growth=growth))
    _load(model, converted)
    return model.eval()


def load_hinet_checkpoint(path: str | os.PathLike[str]) -> HiNet:
    """HiNet from a checkpoint saved by the published ``train.py`` (``model.pt``)."""
    return hinet_from_state(read_checkpoint(path))


def load_deepmih_checkpoints(
    stage_paths: Sequence[str | os.PathLike[str]],
    map_paths: Sequence[str | os.PathLike[str]] = (),
    legacy_secret_slot: bool = True,
) -> DeepMIH:
    """DeepMIH from the published ``*_1.pt``, ``*_2.pt`` (stages) and ``*_3.pt`` (map).

    ``legacy_secret_slot`` defaults to True because the released two-secret
    model was trained by ``train_old_version.py``, which reads secret 2 from
    the middle channels (see :mod:`invimg.hiding.deepmih`).
    """
    n = len(stage_paths)
    if n not in (2, 3) or len(map_paths) not in (0, n - 1):
        raise ModelError(f"DeepMIH needs 2–3 stage files and 0 or {n - 1} map files")
    state: dict[str, Tensor] = {}
    for k, path in enumerate(stage_paths):
        state.update(convert_couplings(read_checkpoint(path), f"stages.{k}."))
    for k, path in enumerate(map_paths):
        state.update(convert_importance(read_checkpoint(path), f"importance.{k}."))
    blocks, growth = _depth_and_growth(state, "stages.0.")
    config = DeepMIH.Config(
        num_secrets=n,
        num_blocks=blocks,
        growth=growth,
        use_importance_map=bool(map_paths),
        legacy_secret_slot=legacy_secret_slot,
    )
    model = DeepMIH(config)
    _load(model, state)
    return model.eval()


def _load(model: torch.nn.Module, state: dict[str, Tensor]) -> None:
    load_state_checked(model, state, "checkpoint tensors")


register_format(HiNet, (".pt", ".pth"), load_hinet_checkpoint)
