"""Multi-GPU / multi-node training with plain PyTorch DDP, launched by ``torchrun``.

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (and the
rendezvous address); when they are absent the run is a single process and
every helper here degrades to a no-op, so the trainer has one code path.
Only rank 0 logs and writes files; every decision that changes what the
ranks do next (the divergence guard's) is made from all-reduced values, so
the ranks cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from invimg.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 is the one that logs and writes checkpoints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when a process group with more than one member is running."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed() -> DistInfo:
    """Join the torchrun process group if the environment asks for one (idempotent).

    nccl is the backend on CUDA, gloo on CPU (tests, CPU clusters).
    """
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return DistInfo()
    info = DistInfo(_env_int("RANK", 0), _env_int("LOCAL_RANK", 0), world)
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(
            backend="nccl" if cuda else "gloo",
            timeout=timedelta(minutes=30),
            device_id=torch.device("cuda", info.local_rank) if cuda else None,
        )
    return info


def shutdown_distributed() -> None:
    """Leave the process group so the job exits cleanly."""
    if dist.is_initialized():
        dist.destroy_process_group()


def current() -> DistInfo:
    """The running job's layout without initialising anything."""
    if not dist.is_initialized():
        return DistInfo()
    return DistInfo(dist.get_rank(), _env_int("LOCAL_RANK", 0), dist.get_world_size())


def device_for(info: DistInfo) -> torch.device:
    """This rank's device: its own GPU if there is one, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", info.local_rank)
    return torch.device("cpu")


def barrier() -> None:
    """Wait for every rank (no-op for one process)."""
    if dist.is_initialized():
        dist.barrier()


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP-wrap ``model`` when several ranks run; rank 0's weights are broadcast."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module inside DDP (and ``torch.compile``) wrappers."""
    while True:
        if isinstance(model, DistributedDataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod  # type: ignore[assignment]
        else:
            return model


def reduce_step_signal(loss: float, bad: bool, device: torch.device) -> tuple[float, bool]:
    """Mean loss over ranks and whether *any* rank saw a non-finite value.

    One all-reduce carries both numbers; every rank gets bit-identical
    results, so decisions taken from them are identical everywhere.
    """
    if not dist.is_initialized():
        return loss, bad
    packed = torch.tensor([loss, 1.0 if bad else 0.0], dtype=torch.float64, device=device)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    total, flags = packed.tolist()
    return total / dist.get_world_size(), flags > 0


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (a list of one for a single process)."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
