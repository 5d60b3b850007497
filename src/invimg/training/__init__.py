"""Shared training machinery: one trainer, many tasks.

A task registers a factory with :func:`register_task` and implements
:class:`TrainingTask`; :func:`run_training` (or ``python -m invimg.training``,
also under ``torchrun``) does the rest. See ``docs/training-stability.md``.

The trainer itself is imported on first use (``run_training``, ``Trainer``):
a task module that registers itself imports this package, and registering a
task must not cost the trainer's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .checkpoint import checkpoint_model_state, export_state_dict, load_checkpoint
from .config import (
    DataConfig,
    GuardConfig,
    OptimConfig,
    TrainConfig,
    config_to_dict,
    load_config,
    save_config,
)
from .data import (
    CenterCropDataset,
    RandomCropDataset,
    StepBatchSampler,
    div2k_layout,
    image_files,
    resolve_files,
    split_train_val,
)
from .distributed import DistInfo, init_distributed, shutdown_distributed
from .guard import DivergenceGuard, TrainingDivergedError
from .registry import TASKS, TrainingTask, get_task_factory, register_task
from .runtime import fp32, seed_everything

if TYPE_CHECKING:
    from .trainer import Trainer, run_training

__all__ = [
    "TASKS",
    "CenterCropDataset",
    "DataConfig",
    "DistInfo",
    "DivergenceGuard",
    "GuardConfig",
    "OptimConfig",
    "RandomCropDataset",
    "StepBatchSampler",
    "TrainConfig",
    "Trainer",
    "TrainingDivergedError",
    "TrainingTask",
    "checkpoint_model_state",
    "config_to_dict",
    "div2k_layout",
    "export_state_dict",
    "fp32",
    "get_task_factory",
    "image_files",
    "init_distributed",
    "load_checkpoint",
    "load_config",
    "register_task",
    "resolve_files",
    "run_training",
    "save_config",
    "seed_everything",
    "shutdown_distributed",
    "split_train_val",
]


def __getattr__(name: str) -> Any:
    if name in ("Trainer", "run_training"):
        return getattr(importlib.import_module(".trainer", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
