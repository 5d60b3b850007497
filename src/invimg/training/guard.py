"""Divergence guard: roll back to the last good state and lower the LR.

Invertible networks trained with large learning rates occasionally blow up:
the published HiNet run produced NaNs and was restarted by hand from an
earlier checkpoint with a smaller LR. The guard automates exactly that. After
every step it looks at the (all-reduced) loss and the gradient norm; on a
non-finite value, or a spike above ``spike_factor`` × the running median of
the last ``window`` losses that lasts ``patience`` consecutive steps, it
restores model, optimizer and scheduler from an in-memory snapshot,
multiplies the LR by ``lr_factor`` and training goes on. A spike shorter
than that is one hard batch, not divergence: its update is skipped and the
LR is left alone (measured: content alone moved a summed HiNet loss 5×
between steps, and halving the LR for each such step starved the run).
After ``max_rollbacks`` it gives up with :class:`TrainingDivergedError`.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from invimg.errors import ConfigError

from .config import GuardConfig


class TrainingDivergedError(ConfigError):
    """Training kept diverging after every allowed rollback (lower ``optim.lr``)."""


@dataclass
class Snapshot:
    """A copy (on the CPU) of everything a rollback restores."""

    step: int
    model: dict[str, Any]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    lr_scale: float
    history: list[float]


def _cpu_copy(state: Any) -> Any:
    """Deep copy with tensors moved to the CPU, so snapshots cost no GPU memory."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: _cpu_copy(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_cpu_copy(v) for v in state)
    return copy.deepcopy(state)


def scale_lr(optimizer: Optimizer, scheduler: LRScheduler | None, factor: float) -> None:
    """Multiply the current LR *and* the scheduler's base LRs, so the change sticks."""
    for group in optimizer.param_groups:
        group["lr"] *= factor
        if "initial_lr" in group:
            group["initial_lr"] *= factor
    if scheduler is not None:
        scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
        last = getattr(scheduler, "_last_lr", None)
        if last is not None:
            scheduler._last_lr = [lr * factor for lr in last]


class DivergenceGuard:
    """Detects divergence and restores the last good snapshot with a lower LR."""

    def __init__(self, config: GuardConfig) -> None:
        self.config = config
        self.history: deque[float] = deque(maxlen=config.window)
        self.rollbacks = 0
        self.spikes = 0  # consecutive spiking steps so far
        self.skipped = 0  # steps whose update was skipped, over the run
        self.lr_scale = 1.0
        self.snapshot: Snapshot | None = None

    # -- detection ---------------------------------------------------------------

    def check(self, loss: float, nonfinite: bool) -> str | None:
        """Why training must roll back now, or None (see :meth:`skip` for short spikes).

        ``loss`` must be the same number on every rank (all-reduced) and
        ``nonfinite`` already OR-ed over ranks, so all ranks agree.
        """
        if not self.config.enabled:
            return None
        if nonfinite or not math.isfinite(loss):
            return "non-finite loss or gradient"
        spike = self._spike(loss)
        self.spikes = self.spikes + 1 if spike else 0
        if spike and self.spikes >= self.config.patience:
            return f"{spike} for {self.spikes} step(s)"
        return None

    def skip(self) -> bool:
        """True while a spike is shorter than ``patience``: leave this update out."""
        if self.spikes:
            self.skipped += 1
        return self.spikes > 0

    def _spike(self, loss: float) -> str | None:
        factor = self.config.spike_factor
        if factor is None or len(self.history) < (self.history.maxlen or 0):
            return None
        median = statistics.median(self.history)
        if median > 0 and loss > factor * median:
            return f"loss spike {loss:.4g} > {factor:g} × median {median:.4g}"
        return None

    def record(self, loss: float) -> None:
        """Add a good step's loss to the running window."""
        self.history.append(loss)

    # -- snapshots and rollback --------------------------------------------------

    def take_snapshot(
        self, step: int, model: nn.Module, optimizer: Optimizer, scheduler: LRScheduler
    ) -> None:
        """Remember the current state as the rollback target (call only when it is finite)."""
        self.snapshot = Snapshot(
            step=step,
            model=_cpu_copy(model.state_dict()),
            optimizer=_cpu_copy(optimizer.state_dict()),
            scheduler=copy.deepcopy(scheduler.state_dict()),
            lr_scale=self.lr_scale,
            history=list(self.history),
        )

    def rollback(
        self, step: int, reason: str, model: nn.Module, optimizer: Optimizer, scheduler: LRScheduler
    ) -> int:
        """Restore the snapshot with a lowered LR; return the step to continue from.

        Raises :class:`TrainingDivergedError` once ``max_rollbacks`` are used.
        """
        if self.snapshot is None or self.rollbacks >= self.config.max_rollbacks:
            raise TrainingDivergedError(
                f"training diverged at step {step} ({reason}) after {self.rollbacks} "
                f"rollback(s); lower optim.lr, set optim.grad_clip, or raise guard.max_rollbacks"
            )
        snap = self.snapshot
        self.rollbacks += 1
        self.spikes = 0
        self.lr_scale *= self.config.lr_factor
        model.load_state_dict(snap.model)
        optimizer.load_state_dict(copy.deepcopy(snap.optimizer))
        scheduler.load_state_dict(copy.deepcopy(snap.scheduler))
        scale_lr(optimizer, scheduler, self.lr_scale / snap.lr_scale)
        self.history = deque(snap.history, maxlen=self.config.window)
        return snap.step

    # -- persistence -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to continue the guard exactly (not the snapshot)."""
        return {
            "history": list(self.history),
            "rollbacks": self.rollbacks,
            "lr_scale": self.lr_scale,
            "spikes": self.spikes,
            "skipped": self.skipped,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.history = deque((float(x) for x in state["history"]), maxlen=self.config.window)
        self.rollbacks = int(state["rollbacks"])
        self.lr_scale = float(state["lr_scale"])
        self.spikes = int(state.get("spikes", 0))  # absent in checkpoints before patience
        self.skipped = int(state.get("skipped", 0))


def params_finite(model: nn.Module) -> bool:
    """True if every parameter and buffer is finite (a state worth keeping)."""
    tensors = [*model.parameters(), *model.buffers()]
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())
