"""The training-task protocol and the registry of tasks by name.

Tasks (hiding, rescaling, ...) register a factory with ``@register_task``
in their own modules, which import :mod:`invimg.training`; the trainer
never imports them at import time. Instead, the first lookup of an unknown
name imports the module the task table (:mod:`invimg.tasks`) declares for
it, then, if still unknown, every declared module and any ``invimg.tasks``
entry points. That direction of imports makes cycles impossible:
``invimg.training`` can be imported before, after or from inside a task
module.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from invimg.errors import ConfigError
from invimg.tasks import training_tasks

if TYPE_CHECKING:
    from torch import Tensor, nn

    from .config import TrainConfig

#: The module that registers each built-in task (from the task table).
TASK_MODULES: dict[str, str] = {t.task: t.module for t in training_tasks()}
ENTRY_POINT_GROUP = "invimg.tasks"


@runtime_checkable
class TrainingTask(Protocol):
    """What a task gives the trainer: a model, a loss, and validation metrics.

    Under DDP ``training_step`` receives the DDP-wrapped model. Gradients are
    synchronised for work done through the wrapper's ``model(...)`` (several
    calls per step are fine, e.g. ``model(x)`` then ``model(y, rev=True)``);
    a loss computed only through ``unwrap(model).inverse(...)`` bypasses DDP.
    Every parameter must get a gradient each step (DDP runs with
    ``find_unused_parameters=False``). Keep invertible paths in fp32 with
    :func:`invimg.training.fp32` when ``amp`` is ``bf16``.
    """

    def build_model(self) -> nn.Module:
        """A fresh model; called once per run (before DDP wrapping)."""
        ...

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """The scalar loss to minimise and its named terms (plain floats, for the log)."""
        ...

    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        """Metrics for one validation batch (e.g. PSNRs); the trainer averages them."""
        ...


def shipped_model(task: TrainingTask, model: nn.Module) -> nn.Module:
    """What ``invimg export`` ships of a trained ``model``: the task's choice, else all of it.

    A task whose training model bundles more than a user needs (PD-GAN's
    generator *and* discriminator) defines ``shipped_model(model)``; the
    export hook is optional, so the protocol above stays what every task has.
    """
    hook = getattr(task, "shipped_model", None)
    return hook(model) if callable(hook) else model


TaskFactory = Callable[["TrainConfig"], TrainingTask]
F = TypeVar("F", bound=Callable[..., TrainingTask])

TASKS: dict[str, TaskFactory] = {}


def register_task(name: str) -> Callable[[F], F]:
    """Decorator registering a ``(TrainConfig) -> TrainingTask`` factory under ``name``."""

    def decorate(factory: F) -> F:
        existing = TASKS.get(name)
        if (
            existing is not None
            and existing is not factory
            and _qualname(existing) != _qualname(factory)
        ):
            raise ValueError(
                f"training task {name!r} is already registered by {_qualname(existing)}"
            )
        TASKS[name] = factory
        return factory

    return decorate


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def import_task_module(module: str) -> bool:
    """Import ``module`` to let it register tasks; False if that module does not exist."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return False
        raise
    return True


def _load_plugins() -> None:
    for module in dict.fromkeys(TASK_MODULES.values()):
        import_task_module(module)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in TASKS:
            entry.load()


def get_task_factory(name: str) -> TaskFactory:
    """The factory registered as ``name``, importing task modules on first need."""
    if name not in TASKS and name in TASK_MODULES:
        import_task_module(TASK_MODULES[name])
    if name not in TASKS:
        _load_plugins()
    if name not in TASKS:
        known = ", ".join(sorted(TASKS)) or "none"
        raise ConfigError(f"unknown training task {name!r} (registered: {known})")
    return TASKS[name]
